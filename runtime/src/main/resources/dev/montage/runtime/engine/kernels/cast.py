def forward(self, x: Tensor) -> Tensor:
  return torch.to(x, ${dtype})
