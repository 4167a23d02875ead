def forward(self, q: Tensor, k: Tensor, v: Tensor, bias: Tensor) -> Tensor:
  return torch.scaled_dot_product_attention(q, k, v, torch.to(bias, q.dtype))
