package dev.montage.plugins.ipadapter;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Dimensions;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.SubjectResampler;
import java.util.List;

/**
 * IP-Adapter's image projection ({@code image_proj} of the {@code ip_adapter} checkpoint) in the subject resampler
 * slot: the plain adapter's {@code ImageProjModel}, or IP-Adapter Plus' perceiver resampler when the checkpoint holds
 * {@code latents}. The sizes come from the weights; the Plus resampler's head count, which they cannot tell, from the
 * {@code heads} option.
 */
public final class IpAdapterProjectionFactory implements ComponentFactory<SubjectResampler> {

    @Override
    public ComponentKind kind() {
        return ComponentKind.SUBJECT_RESAMPLER;
    }

    @Override
    public String id() {
        return "ip-adapter";
    }

    @Override
    public String description() {
        return "IP-Adapter image projection: each subject picture's CLIP image embedding (plain) or hidden states "
                + "(Plus) to image tokens";
    }

    /** The Plus resampler's heads; unset, its attention width / 64 as in the published checkpoints. */
    static final OptionSpec<Integer> HEADS = OptionSpec.integer("heads", 1, 1024,
            "heads of IP-Adapter Plus' resampler attention (default: its width / 64, as published)");

    @Override
    public List<OptionSpec<?>> options() {
        return List.of(HEADS);
    }

    @Override
    public List<ModelFile> modelFiles() {
        return List.of(IpAdapterCheckpoint.FILE);
    }

    /**
     * @throws IllegalArgumentException naming the checkpoint when it is not a plain IP-Adapter's
     */
    @Override
    public SubjectResampler create(ComponentContext context) {
        ModelWeights imageProj = IpAdapterCheckpoint.of(context.checkpoint(IpAdapterCheckpoint.KEY)).imageProj();
        ImageTokens tokens = isPlus(imageProj)
                ? new PerceiverProjection(imageProj, context.options().find(HEADS).orElse(0), context.manager(),
                        context.kernels(), context.dtype())
                : new ImageProjection(imageProj, context.manager(), context.kernels());
        return new IpAdapterProjection(tokens, context.kernels(), context.dtype());
    }

    private static boolean isPlus(ModelWeights imageProj) {
        return imageProj.contains("latents");
    }

    /** Expects image features of its projection's input width; provides tokens of its output width. */
    @Override
    public Dimensions dimensions(ComponentContext context) {
        ModelWeights imageProj = IpAdapterCheckpoint.of(context.checkpoint(IpAdapterCheckpoint.KEY)).imageProj();
        String source = imageProj.source();
        boolean plus = isPlus(imageProj);
        String in = plus ? "proj_in.weight" : "proj.weight";
        String out = plus ? "norm_out.weight" : "norm.weight";
        return Dimensions.builder()
                .expects(plus ? Dimensions.IMAGE_HIDDEN : Dimensions.IMAGE_EMBEDS,
                        Math.toIntExact(imageProj.shape(in)[1]), source + " '" + in + "'")
                .provides(Dimensions.SUBJECT_WIDTH, Math.toIntExact(imageProj.shape(out)[0]), source + " '" + out + "'")
                .build();
    }
}
