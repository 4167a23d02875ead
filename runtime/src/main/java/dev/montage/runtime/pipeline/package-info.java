/**
 * Pipelines: {@link dev.montage.runtime.pipeline.MontagePipeline} and its builder are how applications build and run
 * them, from a profile, with components by id or as instances. The assembly behind it and the generation loop are
 * package-private. The other public types are what hosts of single components and the checks of requests use:
 * {@link dev.montage.runtime.pipeline.ModelPaths} (where the weights are),
 * {@link dev.montage.runtime.pipeline.FolderComponentContext} (what a component is created with),
 * {@link dev.montage.runtime.pipeline.ControlNets} (the control types a pipeline serves, which check a request's
 * controls) and {@link dev.montage.runtime.pipeline.ControlImages} (a control's picture as its ControlNet gets it).
 */
package dev.montage.runtime.pipeline;
