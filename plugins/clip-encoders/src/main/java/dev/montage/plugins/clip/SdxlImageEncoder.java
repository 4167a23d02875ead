package dev.montage.plugins.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelFolder;
import dev.montage.api.spi.ImageEncoder;
import java.awt.image.BufferedImage;
import java.util.List;

/**
 * The subject encoder of SDXL adapters: CLIP preprocessing of the pictures ({@link ClipImageProcessor}) and the
 * CLIP vision tower ({@code image_encoder}, CLIP-ViT-bigG-14 for MS-Diffusion): its penultimate hidden states or
 * its image embedding.
 */
final class SdxlImageEncoder implements ImageEncoder, AutoCloseable {
    private final ClipImageProcessor processor;
    private final ClipVisionModel model;
    private final Kernels kernels;
    private final ComputeDType dtype;

    SdxlImageEncoder(ModelFolder imageEncoder, ImagePreparation preparation, NDManager manager, Kernels kernels,
            ComputeDType dtype) {
        this.processor = ClipImageProcessor.forModel(imageEncoder, preparation);
        this.kernels = kernels;
        this.dtype = dtype;
        int side = ClipConfig.vision(imageEncoder.config()).imageSize();
        if (processor.height() != side || processor.width() != side) {
            throw new IllegalArgumentException(imageEncoder.path() + ": the image processor makes "
                    + processor.height() + "x" + processor.width() + " pixel values but config.json's image_size is "
                    + side);
        }
        this.model = new ClipVisionModel(imageEncoder, manager, kernels);
    }

    /** The preprocessing in use. */
    ClipImageProcessor processor() {
        return processor;
    }

    @Override
    public NDArray encode(NDManager manager, List<BufferedImage> images, Features features) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray out = encodePixels(processor.pixelValues(scope, images), features);
            out.attach(manager);
            return out;
        }
    }

    @Override
    public NDArray encodeBlank(NDManager manager, int count, Features features) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray out = encodePixels(scope.zeros(new Shape(count, 3, processor.height(), processor.width())),
                    features);
            out.attach(manager);
            return out;
        }
    }

    /**
     * The features of preprocessed pixels.
     *
     * @param pixels [N, 3, S, S] float32
     * @return as {@code features} describes them, in the compute dtype, attached to the manager of {@code pixels}
     */
    NDArray encodePixels(NDArray pixels, Features features) {
        try (NDManager scope = pixels.getManager().newSubManager()) {
            // a float32 copy on the weights' device (a bf16 array could not be moved), cast there
            NDArray input = pixels.toDevice(model.device(), true);
            input.attach(scope);
            if (dtype != ComputeDType.FLOAT32) {
                input = kernels.cast(input, dtype);
            }
            NDArray out = switch (features) {
                case PENULTIMATE_HIDDEN_STATES -> model.penultimate(input);
                case IMAGE_EMBEDS -> model.imageEmbeds(input);
            };
            out.attach(pixels.getManager());
            return out;
        }
    }

    @Override
    public void close() {
        model.close();
    }
}
