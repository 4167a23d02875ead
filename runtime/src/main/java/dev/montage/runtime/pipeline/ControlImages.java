package dev.montage.runtime.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.Control;
import dev.montage.api.ControlData;
import dev.montage.api.FieldError;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.image.PilResampler;
import dev.montage.api.image.ResampleFilter;
import dev.montage.api.image.RgbImage;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.Options;
import java.awt.image.BufferedImage;
import java.util.List;

/**
 * Control pictures (and data files, which their preprocessor renders) to the tensors a ControlNet receives, as
 * diffusers' ControlNet pipelines prepare them ({@code VaeImageProcessor} with {@code do_convert_rgb}, no
 * normalisation): Pillow's {@code convert("RGB")}, a Lanczos resize to the output size (none when the size already
 * matches), {@code x / 255} in float32.
 */
public final class ControlImages {
    private ControlImages() {
    }

    /**
     * The conditioning picture of a control: its preprocessor's output unless the control says
     * {@code preprocess=none}, else its own picture; in RGB at the output size. A control given as a data file (such
     * as OpenPose keypoints) always goes through its preprocessor, which renders the picture.
     *
     * @param preprocessor the type's preprocessor; null only for a control that says {@code preprocess=none}
     *                     ({@link ControlNets#check} refuses the others)
     * @throws InvalidRequestException naming the control (field {@code controls[<index>]}) when its preprocessor
     *     refuses it, or when it is given as a data file with {@code preprocess=none}
     */
    static RgbImage conditioningImage(int index, Control control, ConditionPreprocessor preprocessor, int width,
            int height) {
        return conditioningImage("controls[" + index + "]", control, preprocessor, width, height);
    }

    /**
     * The conditioning picture of a control, as a generation makes it.
     *
     * @param name how errors name the control: the field of the request that gave it
     * @throws InvalidRequestException naming the control when its preprocessor refuses it, or when it is given as
     *     a data file with {@code preprocess=none}
     */
    public static RgbImage conditioningImage(String name, Control control, ConditionPreprocessor preprocessor,
            int width, int height) {
        BufferedImage picture = control.image();
        ControlData data = control.data();
        if (control.preprocess()) {
            Options options = Options.of("options", control.options());
            try {
                picture = data == null
                        ? preprocessor.preprocess(picture, options, width, height)
                        : preprocessor.preprocessData(data.bytes(), data.source(), options, width, height);
                if (picture == null) {
                    throw new IllegalStateException("the '" + control.type() + "' preprocessor returned no picture");
                }
            } catch (IllegalArgumentException e) {
                throw invalid(name, e.getMessage());
            }
        } else if (data != null) {
            throw invalid(name, "given as a data file (" + data.source() + "), which needs its preprocessor: "
                    + "preprocess=none takes a picture only");
        }
        return PilResampler.resize(RgbImage.of(picture, null), width, height, ResampleFilter.LANCZOS);
    }

    private static InvalidRequestException invalid(String field, String message) {
        return new InvalidRequestException(List.of(new FieldError(field, message)));
    }

    /**
     * [rows, 3, H, W] float32 in 0..1, every row the same picture (the CFG halves and images of one request share
     * their control).
     */
    static NDArray toTensor(NDManager manager, RgbImage image, int rows) {
        int plane = image.width() * image.height();
        float[] chw = new float[3 * plane];
        byte[] pixels = image.pixels();
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++) {
                chw[c * plane + i] = (pixels[i * 3 + c] & 0xFF) / 255f;
            }
        }
        NDArray one = manager.create(chw, new Shape(1, 3, image.height(), image.width()));
        if (rows == 1) {
            return one;
        }
        NDArray repeated = one.repeat(0, rows);
        one.close();
        return repeated;
    }
}
