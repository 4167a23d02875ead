def forward(self, x: Tensor) -> Tensor:
  return torch.gelu(x, approximate="tanh")
