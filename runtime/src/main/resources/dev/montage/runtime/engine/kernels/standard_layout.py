def forward(self, x: Tensor) -> Tensor:
  return torch.contiguous(x)
