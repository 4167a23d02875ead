package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.Scopes;
import dev.montage.nn.Weights;

/**
 * The UNet's {@code temb}: {@code time_embedding(time_proj(t))}, plus for SDXL
 * {@code add_embedding(pooled ‖ add_time_proj(time ids))}. Shared by the UNet and the ControlNet, which carry
 * the same modules under the same names.
 */
final class TimeConditioning {
    private final UNetConfig config;
    private final TimestepEmbedding timeEmbedding;
    private final TimestepEmbedding addEmbedding;
    private final Kernels kernels;

    TimeConditioning(Weights p, UNetConfig config, Kernels kernels) {
        this.config = config;
        this.kernels = kernels;
        int timestepWidth = config.blockOutChannels().get(0);
        this.timeEmbedding = new TimestepEmbedding(p.prefixed("time_embedding"), timestepWidth,
                config.timeEmbedDim(), config.timeCondProjDim(), kernels);
        this.addEmbedding = config.textTimeEmbedding()
                ? new TimestepEmbedding(p.prefixed("add_embedding"), config.additionInputDim(), config.timeEmbedDim(),
                        kernels)
                : null;
    }

    /**
     * @param scope    receives every intermediate and the result
     * @param timestep the scheduler's timestep, the same for the whole batch
     * @param batch    batch size
     * @param pooled   [B, P] pooled text embedding (ignored without {@code text_time})
     * @param timeIds  [B, 6] micro-conditioning (ignored without {@code text_time})
     * @param guidance [B, time_cond_proj_dim] the guidance embedding of a guidance-distilled UNet, else null
     * @param dtype    the compute dtype
     * @return [B, time_embed_dim] {@code temb}, before the resnets' SiLU
     * @throws IllegalArgumentException when the guidance embedding is missing where the UNet takes one, given
     *     where it takes none, or of another shape
     */
    NDArray forward(NDManager scope, float timestep, long batch, NDArray pooled, NDArray timeIds, NDArray guidance,
            ComputeDType dtype, StageRecorder recorder) {
        NDArray t = scope.full(new Shape(batch), timestep, DataType.FLOAT32);
        NDArray timeProj = Sinusoids.embed(t, config.blockOutChannels().get(0), config.flipSinToCos(),
                config.freqShift());
        recorder.record("time_proj", timeProj);
        NDArray emb;
        if (config.timeCondProjDim() > 0) {
            checkRows("guidance", guidance, batch, config.timeCondProjDim());
            emb = timeEmbedding.apply(toCompute(timeProj, dtype), toCompute(Scopes.borrow(guidance, scope), dtype));
        } else if (guidance != null) {
            throw new IllegalArgumentException("UNet input 'guidance' given to a UNet without 'time_cond_proj_dim', "
                    + "which takes no guidance embedding");
        } else {
            emb = timeEmbedding.apply(toCompute(timeProj, dtype));
        }
        recorder.record("time_embedding", emb);
        if (addEmbedding != null) {
            checkRows("pooled", pooled, batch, config.additionInputDim() - UNetConfig.TIME_IDS
                    * config.additionTimeEmbedDim());
            checkRows("timeIds", timeIds, batch, UNetConfig.TIME_IDS);
            // the sinusoids are float32 by construction: widen bf16 ids, never narrow before embedding
            NDArray ids = Scopes.borrow(timeIds, scope);
            ids = ids.getDataType() == DataType.FLOAT32 ? ids : ids.toType(DataType.FLOAT32, false);
            NDArray addTimeProj = Sinusoids.embed(ids.reshape(-1), config.additionTimeEmbedDim(),
                    config.flipSinToCos(), config.freqShift());
            recorder.record("add_time_proj", addTimeProj);
            NDArray timeEmbeds = toCompute(addTimeProj.reshape(batch, -1), dtype);
            NDArray input = toCompute(Scopes.borrow(pooled, scope), dtype).concat(timeEmbeds, 1);
            recorder.record("add_embedding_input", input);
            NDArray aug = addEmbedding.apply(input);
            recorder.record("add_embedding", aug);
            emb = emb.add(aug);
        }
        recorder.record("emb", emb);
        return emb;
    }

    private NDArray toCompute(NDArray x, ComputeDType dtype) {
        return kernels.dtypeOf(x) == dtype ? x : kernels.cast(x, dtype);
    }

    private static void checkRows(String what, NDArray x, long batch, long width) {
        Shape s = x == null ? null : x.getShape();
        if (s == null || s.dimension() != 2 || s.get(0) != batch || s.get(1) != width) {
            throw new IllegalArgumentException("UNet input '" + what + "' must be [" + batch + ", " + width
                    + "] for this UNet's configuration, got " + s);
        }
    }
}
