def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
  return torch.matmul(torch.to(torch.softmax(torch.matmul(q, torch.transpose(k, -2, -1)) * (q.size(-1) ** -0.5), -1, ${float32}), q.dtype), v)
