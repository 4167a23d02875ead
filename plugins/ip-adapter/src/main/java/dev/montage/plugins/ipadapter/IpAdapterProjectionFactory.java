package dev.montage.plugins.ipadapter;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Dimensions;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.SubjectResampler;
import java.util.List;

/**
 * IP-Adapter's image projection ({@code image_proj} of the {@code ip_adapter} checkpoint) in the subject resampler
 * slot; its sizes come from the weights.
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
        return "IP-Adapter image projection: each subject picture's CLIP image embedding to image tokens";
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
        IpAdapterCheckpoint checkpoint = IpAdapterCheckpoint.of(context.checkpoint(IpAdapterCheckpoint.KEY));
        return new IpAdapterProjection(new ImageProjection(checkpoint.imageProj(), context.manager(),
                context.kernels()), context.kernels(), context.dtype());
    }

    /** Expects image embeddings of its projection's input width; provides tokens of its output width. */
    @Override
    public Dimensions dimensions(ComponentContext context) {
        ModelWeights imageProj = IpAdapterCheckpoint.of(context.checkpoint(IpAdapterCheckpoint.KEY)).imageProj();
        String source = imageProj.source();
        return Dimensions.builder()
                .expects(Dimensions.IMAGE_EMBEDS, Math.toIntExact(imageProj.shape("proj.weight")[1]),
                        source + " 'proj.weight'")
                .provides(Dimensions.SUBJECT_WIDTH, Math.toIntExact(imageProj.shape("norm.weight")[0]),
                        source + " 'norm.weight'")
                .build();
    }
}
