def forward(self, q: Tensor, k: Tensor, v: Tensor, bias: Tensor) -> Tensor:
  return torch.matmul(torch.to(torch.softmax(torch.to(torch.matmul(q, torch.transpose(k, -2, -1)) * (q.size(-1) ** -0.5), ${float32}) + torch.to(bias, ${float32}), -1), q.dtype), v)
