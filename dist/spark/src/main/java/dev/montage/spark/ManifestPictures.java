package dev.montage.spark;

import dev.montage.dist.record.GenerationRecord;
import dev.montage.dist.server.PictureReferences;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Pictures a manifest names by {@code file}: a path or URI, relative ones resolved against the manifest's folder,
 * read through Hadoop's file systems (local files, HDFS, and whatever else the cluster has installed). A record
 * gives a local picture again by its absolute path, as {@code montage generate} records it, others by URI.
 */
final class ManifestPictures implements PictureReferences {
    private final URI base;
    private final Configuration hadoop = new Configuration();

    /** @param base the manifest's folder, qualified ({@code file:/data/batch/}) */
    ManifestPictures(URI base) {
        this.base = base;
    }

    @Override
    public String field() {
        return GenerationRecord.FILE;
    }

    @Override
    public Optional<Found> find(String name) throws IOException {
        Path path = resolve(name);
        FileSystem fs = path.getFileSystem(hadoop);
        if (!fs.isFile(path)) {
            return Optional.empty();
        }
        try (InputStream in = fs.open(path)) {
            URI uri = path.toUri();
            return Optional.of(new Found(in.readAllBytes(), "file".equals(uri.getScheme()) ? uri.getPath()
                    : uri.toString()));
        }
    }

    @Override
    public String unknown(String name) {
        return "no file " + resolve(name) + " (a path or URI; a relative one is read from the manifest's folder "
                + base + ")";
    }

    private Path resolve(String name) {
        Path given = new Path(name);
        return given.isAbsoluteAndSchemeAuthorityNull() || given.toUri().getScheme() != null ? given
                : new Path(new Path(base), given);
    }
}
