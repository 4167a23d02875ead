package dev.montage.dist.server;

import dev.montage.runtime.output.AtomicFiles;
import dev.montage.runtime.output.PngFiles;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The files of one result in an output folder: its PNGs {@code ID-N.png}, then its JSON sidecar {@code ID.json}, each
 * written to a temporary file and renamed into place, the sidecar last, so a sidecar always describes complete
 * images. Writing a result again (a re-run of the same id) replaces its files whole.
 */
public final class ResultFiles {
    /** The sidecar's extension. */
    public static final String SIDECAR = ".json";

    private ResultFiles() {
    }

    /** The name of image {@code n} of result {@code id}. */
    public static String image(String id, int n) {
        return id + "-" + n + ".png";
    }

    /** The sidecar of result {@code id}. */
    public static Path sidecar(Path dir, String id) {
        return dir.resolve(id + SIDECAR);
    }

    /**
     * Writes the images, each with the PNG text chunks given, then the sidecar.
     *
     * @throws IOException when anything cannot be written; then nothing of this result is left
     */
    public static void write(Path dir, String id, List<BufferedImage> images, Map<String, String> chunks,
            byte[] sidecar) throws IOException {
        List<Path> staged = new ArrayList<>();
        List<Path> placed = new ArrayList<>();
        try {
            for (int n = 0; n < images.size(); n++) {
                staged.add(AtomicFiles.temporary(dir.resolve(image(id, n)), PngFiles.encode(images.get(n), chunks)));
            }
            staged.add(AtomicFiles.temporary(sidecar(dir, id), sidecar));
            for (int i = 0; i < staged.size(); i++) {
                Path target = i < images.size() ? dir.resolve(image(id, i)) : sidecar(dir, id);
                AtomicFiles.moveIntoPlace(staged.get(i), target);
                placed.add(target);
            }
        } catch (IOException | RuntimeException e) {
            for (Path p : staged) {
                Files.deleteIfExists(p);
            }
            for (Path p : placed) {
                Files.deleteIfExists(p);
            }
            throw e;
        }
    }
}
