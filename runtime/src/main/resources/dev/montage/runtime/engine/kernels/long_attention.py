def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
  if q.dtype != ${bfloat16}:
    return torch.scaled_dot_product_attention(q, k, v)
  rows = q.size(-2)
  keys = k.size(-2)
  step = min(rows, max(1, ${chunk_scores} // (q.numel() // (rows * q.size(-1)) * keys)))
  shape = q.size()
  shape[-2] = step
  shape[-1] = keys
  scores = torch.empty(shape, dtype=q.dtype, device=q.device)
  probs = torch.empty(shape, dtype=q.dtype, device=q.device)
  # per-head views of [B, L, heads, d] projections: made contiguous once, or every chunk's
  # products would copy them
  kt = torch.transpose(torch.contiguous(k), -2, -1)
  v = torch.contiguous(v)
  scale = q.size(-1) ** -0.5
  chunks: List[Tensor] = []
  for start in range(0, rows, step):
    n = min(step, rows - start)
    s = torch.narrow(scores, -2, 0, n)
    p = torch.narrow(probs, -2, 0, n)
    torch.matmul(torch.narrow(q, -2, start, n) * scale, kt, out=s)
    torch.softmax(s, -1, out=p)
    chunks.append(torch.matmul(p, v))
  return torch.cat(chunks, -2)
