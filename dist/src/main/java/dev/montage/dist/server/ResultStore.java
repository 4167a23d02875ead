package dev.montage.dist.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.montage.api.GenerationResult;
import dev.montage.dist.record.GenerationRecord;
import dev.montage.dist.record.ModelHashes;
import dev.montage.runtime.output.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The output folder: for each succeeded generation its PNGs ({@code ID-N.png}, its record embedded) and a JSON
 * sidecar ({@code ID.json}) written last, so a sidecar always describes complete images. The sidecar is the
 * generation's record ({@link GenerationRecord}): a valid request that makes the same images, with the generation's
 * id, times and files in its {@code montage} object. Nothing of a failed or
 * cancelled generation is written, and a failure while writing removes what was written.
 */
final class ResultStore {
    private static final Logger LOG = LoggerFactory.getLogger(ResultStore.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final String SIDECAR = ResultFiles.SIDECAR;

    private final Path dir;
    private final ModelHashes hashes;

    /**
     * @param hashes where the SHA-256 of model files recorded with each result come from
     */
    ResultStore(Path dir, ModelHashes hashes) throws IOException {
        this.dir = Files.createDirectories(dir);
        this.hashes = hashes;
        int leftovers = AtomicFiles.deleteLeftovers(dir);
        if (leftovers > 0) {
            LOG.info("Removed {} unfinished temporary file(s) from {}", leftovers, dir);
        }
    }

    Path dir() {
        return dir;
    }

    /**
     * Writes the images and then the sidecar of a generation that ended at {@code finishedAt}.
     *
     * @throws IOException when anything cannot be written; then nothing of this generation is left
     */
    void save(Job job, GenerationResult result, Instant finishedAt) throws IOException {
        List<String> files = new ArrayList<>();
        for (int n = 0; n < result.images().size(); n++) {
            files.add(Job.imageFile(job.id(), n));
        }
        Map<String, Object> generation = new LinkedHashMap<>();
        generation.put("id", job.id());
        generation.put("createdAt", job.createdAt().toString());
        generation.put("startedAt", job.startedAt().toString());
        generation.put("finishedAt", finishedAt.toString());
        generation.put("files", files);
        Map<String, Object> record = GenerationRecord.of(job.parameters(), result.parameters(), hashes, generation);
        ResultFiles.write(dir, job.id(), result.images(), GenerationRecord.pngChunks(result.request(), record),
                JSON.writeValueAsBytes(record));
    }

    /** Path of image {@code n} of a job (which may not exist). */
    Path image(String id, int n) {
        return dir.resolve(Job.imageFile(id, n));
    }

    /** The stored generation with this id, or empty when there is none (or its sidecar is unreadable). */
    Optional<Job> find(String id) {
        if (!Ids.wellFormed(id) || !Files.isRegularFile(dir.resolve(id + SIDECAR))) {
            return Optional.empty();
        }
        Path sidecar = dir.resolve(id + SIDECAR);
        try {
            return Optional.of(restore(sidecar));
        } catch (IOException | RuntimeException e) {
            LOG.warn("Cannot read result sidecar {}: {}", sidecar, e.toString());
            return Optional.empty();
        }
    }

    /** The generations earlier runs stored, oldest first; unreadable sidecars are logged and passed over. */
    List<Job> load() throws IOException {
        List<Job> jobs = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.filter(f -> f.getFileName().toString().endsWith(SIDECAR)).sorted().toList()) {
                try {
                    jobs.add(restore(p));
                } catch (IOException | RuntimeException e) {
                    LOG.warn("Passing over result sidecar {}: {}", p, e.toString());
                }
            }
        }
        jobs.sort(Comparator.comparing(Job::createdAt));
        return jobs;
    }

    @SuppressWarnings("unchecked")
    private Job restore(Path sidecarFile) throws IOException {
        Map<String, Object> record = new LinkedHashMap<>(JSON.readValue(sidecarFile.toFile(), Map.class));
        Map<String, Object> s = (Map<String, Object>) record.remove(GenerationRecord.MONTAGE);
        if (s == null) {
            throw new IOException("it has no '" + GenerationRecord.MONTAGE + "' object");
        }
        String id = (String) s.get("id");
        if (!Ids.wellFormed(id) || !sidecarFile.getFileName().toString().equals(id + SIDECAR)) {
            throw new IOException("its id " + id + " does not match the file name");
        }
        List<String> files = (List<String>) s.get("files");
        for (int n = 0; n < files.size(); n++) {
            if (!files.get(n).equals(Job.imageFile(id, n)) || !Files.isRegularFile(dir.resolve(files.get(n)))) {
                throw new IOException("image " + files.get(n) + " is missing");
            }
        }
        return Job.restored(id, record, Instant.parse((String) s.get("createdAt")),
                Instant.parse((String) s.get("startedAt")), Instant.parse((String) s.get("finishedAt")),
                ((Number) record.get("steps")).intValue(), files.size());
    }
}
