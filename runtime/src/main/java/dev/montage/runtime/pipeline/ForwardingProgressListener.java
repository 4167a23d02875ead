package dev.montage.runtime.pipeline;

import dev.montage.api.Control;
import dev.montage.api.ProgressListener;
import java.awt.image.BufferedImage;
import java.time.Duration;

/** A listener that hands every call to another; a subclass changes the calls it needs to. */
abstract class ForwardingProgressListener implements ProgressListener {
    private final ProgressListener listener;

    ForwardingProgressListener(ProgressListener listener) {
        this.listener = listener;
    }

    @Override
    public boolean onStep(int step, int total, Duration elapsed) {
        return listener.onStep(step, total, elapsed);
    }

    @Override
    public boolean cancelRequested() {
        return listener.cancelRequested();
    }

    @Override
    public void onStage(String stage) {
        listener.onStage(stage);
    }

    @Override
    public void onControlImage(int index, Control control, BufferedImage image) {
        listener.onControlImage(index, control, image);
    }

    @Override
    public int previewEvery() {
        return listener.previewEvery();
    }

    @Override
    public void onPreview(int step, int total, BufferedImage preview) {
        listener.onPreview(step, total, preview);
    }
}
