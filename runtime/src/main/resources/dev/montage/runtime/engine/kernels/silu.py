def forward(self, x: Tensor) -> Tensor:
  return torch.silu(x)
