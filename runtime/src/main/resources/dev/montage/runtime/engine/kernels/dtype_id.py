def forward(self, x: Tensor) -> int:
  return x.dtype
