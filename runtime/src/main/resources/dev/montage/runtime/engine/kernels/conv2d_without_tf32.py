def forward(self, x: Tensor, w: Tensor${b_param}) -> Tensor:
  return torch._convolution(x, w, ${b}, [${stride}, ${stride}], [${padding}, ${padding}], [1, 1], False, [0, 0], 1, False, False, True, False)
