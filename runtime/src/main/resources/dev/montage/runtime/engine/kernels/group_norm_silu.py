def forward(self, x: Tensor${weight_param}${bias_param}) -> Tensor:
  return torch.silu_(torch.group_norm(x, ${groups}, ${weight}, ${bias}, ${eps}, True))
