package dev.montage.runtime.weights;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.Set;

/**
 * A {@code torch.save} checkpoint seen as flat named tensors (nested dictionaries joined with dots, as a
 * PyTorch {@code state_dict} names them).
 */
public final class TorchCheckpointSource implements TensorSource {
    private final TorchCheckpointReader reader;
    private final Map<String, RawTensor> tensors;

    private TorchCheckpointSource(TorchCheckpointReader reader) {
        this.reader = reader;
        this.tensors = Collections.unmodifiableMap(reader.flatten());
    }

    /**
     * Opens a checkpoint; only the pickle is read, storages stay memory-mapped.
     *
     * @throws WeightFormatException when the file is not a torch zip checkpoint or would run code
     */
    public static TorchCheckpointSource open(Path file) throws IOException {
        return new TorchCheckpointSource(TorchCheckpointReader.open(file));
    }

    /** The nested structure as unpickled (for checkpoints whose top level is not a state dict). */
    public Object root() {
        return reader.root();
    }

    @Override
    public Path path() {
        return reader.file();
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public TensorInfo info(String name) {
        RawTensor t = tensor(name);
        return new TensorInfo(name, t.dtype(), t.shape());
    }

    @Override
    public RawTensor tensor(String name) {
        RawTensor t = tensors.get(name);
        if (t == null) {
            throw new WeightFormatException("torch checkpoint " + reader.file() + ": no tensor '" + name + "'");
        }
        return t;
    }

    @Override
    public Map<String, String> metadata() {
        return Map.of();
    }

    @Override
    public void close() {
        try {
            reader.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close " + reader.file(), e);
        }
    }
}
