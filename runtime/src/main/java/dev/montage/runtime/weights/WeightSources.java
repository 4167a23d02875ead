package dev.montage.runtime.weights;

import java.io.IOException;
import java.nio.file.Path;

/** Opens weights files with the reader their format needs. */
final class WeightSources {
    private WeightSources() {
    }

    static TensorSource open(WeightFile file) throws IOException {
        return switch (file.format()) {
            case SAFETENSORS -> SafetensorsReader.open(file.path());
            case TORCH_CHECKPOINT -> TorchCheckpointSource.open(file.path());
            case SAFETENSORS_INDEX, TORCH_CHECKPOINT_INDEX -> ShardedCheckpoint.open(file.path());
        };
    }

    /** A single (shard) file, by its extension: {@code .bin}/{@code .pt}/{@code .pth} are torch, the rest safetensors. */
    static TensorSource openFile(Path file) throws IOException {
        String name = file.getFileName().toString();
        boolean torch = name.endsWith(".bin") || name.endsWith(".pt") || name.endsWith(".pth");
        return torch ? TorchCheckpointSource.open(file) : SafetensorsReader.open(file);
    }
}
