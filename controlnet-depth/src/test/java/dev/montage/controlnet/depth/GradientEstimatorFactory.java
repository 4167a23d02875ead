package dev.montage.controlnet.depth;

import dev.montage.api.host.ComponentContext;

/**
 * A stand-in depth estimation model, registered for the tests through {@code META-INF/services}: depth grows from
 * the left edge (far) to the right edge (near) of a half-size map, whatever the picture shows.
 */
public final class GradientEstimatorFactory implements DepthEstimatorFactory {
    static final String ID = "test-gradient";
    /** How often {@link #create} ran, to check that estimators are built once. */
    static int created;

    @Override
    public String id() {
        return ID;
    }

    @Override
    public DepthEstimator create(ComponentContext context) {
        created++;
        return picture -> {
            int w = Math.max(1, picture.getWidth() / 2);
            int h = Math.max(1, picture.getHeight() / 2);
            float[] v = new float[w * h];
            for (int i = 0; i < v.length; i++) {
                v[i] = 0.25f + (i % w) * 0.5f;
            }
            return new DepthMap(w, h, v);
        };
    }
}
