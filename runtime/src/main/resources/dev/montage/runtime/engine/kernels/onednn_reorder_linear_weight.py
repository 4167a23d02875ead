def forward(self, w: Tensor) -> Tensor:
  return ops.mkldnn._reorder_linear_weight(w)
