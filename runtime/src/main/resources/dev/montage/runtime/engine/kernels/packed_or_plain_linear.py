def forward(self, x: Tensor, w: Tensor${b_param}) -> Tensor:
  return ops.mkldnn._linear_pointwise(x, w, ${b}, "none", annotate(List[Optional[number]], []), "") if w.is_mkldnn else torch.linear(x, w, ${b})
