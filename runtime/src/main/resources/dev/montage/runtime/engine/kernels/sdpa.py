def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
  return torch.scaled_dot_product_attention(q, k, v)
