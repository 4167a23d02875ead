def forward(self, x: Tensor, w: Tensor${b_param}) -> Tensor:
  return torch.to(torch.conv2d(torch.to(x, ${float32}), torch.to(w, ${float32}), ${b}, [${stride}, ${stride}], [${padding}, ${padding}]), ${bfloat16})
