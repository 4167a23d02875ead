package dev.montage.dist;

import dev.montage.api.Control;
import dev.montage.api.ProgressListener;
import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A listener that keeps the conditioning pictures a generation hands its ControlNets, in request order. */
public final class ControlImageRecorder implements ProgressListener {
    private final List<BufferedImage> images = new ArrayList<>();

    @Override
    public boolean onStep(int step, int total, Duration elapsed) {
        return true;
    }

    @Override
    public void onControlImage(int index, Control control, BufferedImage image) {
        images.add(image);
    }

    /** The pictures seen so far. */
    public List<BufferedImage> images() {
        return images;
    }
}
