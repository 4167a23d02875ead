package dev.montage.runtime.weights;

import java.io.IOException;

/** Opens a {@link WeightFile} with the reader its format needs. */
final class WeightSources {
    private WeightSources() {
    }

    static TensorSource open(WeightFile file) throws IOException {
        return switch (file.format()) {
            case SAFETENSORS -> SafetensorsReader.open(file.path());
            case SAFETENSORS_INDEX -> ShardedSafetensors.open(file.path());
            case TORCH_CHECKPOINT, TORCH_CHECKPOINT_INDEX -> throw new WeightFormatException(
                    file.path() + ": pickled .bin weights are not readable yet");
        };
    }
}
