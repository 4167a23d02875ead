package dev.montage.dist.server;

import dev.montage.runtime.output.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Pictures uploaded with {@code POST /v1/uploads}, kept as sent in a folder (one file per id) so requests can name
 * them instead of carrying base64. They are checked when uploaded and decoded when a request uses them.
 */
final class UploadStore implements PictureReferences {
    private final Path dir;
    private final long maxPixels;

    UploadStore(Path dir, long maxPixels) throws IOException {
        this.dir = Files.createDirectories(dir);
        this.maxPixels = maxPixels;
        AtomicFiles.deleteLeftovers(dir);
    }

    /**
     * Keeps a picture.
     *
     * @return its id
     * @throws IllegalArgumentException when the bytes are no readable picture
     * @throws ApiException 413 when it has more pixels than allowed
     */
    String put(byte[] bytes) throws IOException {
        ImageInput.decode(bytes, "image", new ImageInput.PixelBudget(maxPixels, maxPixels));
        String id = Ids.next();
        AtomicFiles.write(dir.resolve(id), bytes);
        return id;
    }

    /** The bytes of an upload as sent, or empty when there is no upload with that id. */
    Optional<byte[]> get(String id) throws IOException {
        if (!Ids.wellFormed(id) || !Files.isRegularFile(dir.resolve(id))) {
            return Optional.empty();
        }
        return Optional.of(Files.readAllBytes(dir.resolve(id)));
    }

    @Override
    public String field() {
        return "uploadId";
    }

    @Override
    public Optional<Found> find(String id) throws IOException {
        return get(id).map(bytes -> new Found(bytes, id));
    }

    @Override
    public String unknown(String id) {
        return "no upload has the id '" + id + "'";
    }
}
