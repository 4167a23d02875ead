/**
 * The layer library model plugins build on: a {@link dev.montage.nn.Weights} view that modules load their tensors
 * from by the dotted names checkpoints use, the layers ({@link dev.montage.nn.Linear}, {@link dev.montage.nn.Conv2d},
 * {@link dev.montage.nn.GroupNorm}, {@link dev.montage.nn.LayerNorm}) and the blocks diffusers' models share
 * ({@link dev.montage.nn.ResnetBlock2D}, {@link dev.montage.nn.Downsample2D}, {@link dev.montage.nn.Upsample2D},
 * {@link dev.montage.nn.FeedForward}), and attention's parts: {@link dev.montage.nn.Heads},
 * {@link dev.montage.nn.DotProductAttention} through the host's fused kernel, and the per-generation cache of context
 * keys and values ({@link dev.montage.nn.ContextProjections}). It compiles against the api alone, and bnd copies the classes a plugin uses
 * into that plugin's bundle, so plugins share the code but not a bundle.
 *
 * <p>Every {@code forward} leaves its result attached to the manager of its input and frees its intermediates
 * before it returns (the scope idiom of {@link dev.montage.api.host.Scopes}).
 */
package dev.montage.nn;
