def forward(self, x: Tensor) -> Tensor:
  return torch.gelu(x)
