package dev.montage.runtime.config;

import dev.montage.api.spi.Suggestions;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Where profile names lead. A name that looks like a file ({@code a/b.yaml}, {@code my.json}) is that file; any
 * other name is a shipped profile: {@code <name>.yaml} (or {@code .yml}, {@code .json}) in the catalog's folders
 * (a distribution's {@code profiles/}), then the class path resource {@value #RESOURCE_FOLDER}{@code <name>.yaml},
 * which jars list in {@value #RESOURCE_FOLDER}{@value #INDEX_FILE}.
 */
public final class ProfileCatalog {
    /** The class path folder of shipped profiles. */
    public static final String RESOURCE_FOLDER = "dev/montage/profiles/";
    /** The list of shipped profile names in {@link #RESOURCE_FOLDER}, one a line. */
    public static final String INDEX_FILE = "index.txt";
    private static final List<String> EXTENSIONS = List.of(".yaml", ".yml", ".json");

    /**
     * A profile's text and where it came from.
     *
     * @param name       the file or resource, as messages name it
     * @param text       the YAML or JSON text
     * @param json       whether it is JSON (else YAML)
     * @param relativeTo the folder relative paths in it are taken from: the file's folder (the working folder for a
     *                   class path resource)
     */
    public record Source(String name, String text, boolean json, Path relativeTo) {
    }

    private final List<Path> folders;
    private final ClassLoader loader;

    private ProfileCatalog(List<Path> folders, ClassLoader loader) {
        this.folders = List.copyOf(folders);
        this.loader = loader;
    }

    /** Shipped profiles from the class path of {@code loader}. */
    public static ProfileCatalog classpath(ClassLoader loader) {
        return new ProfileCatalog(List.of(), loader);
    }

    /** This catalog, also looking in {@code folder} (before the class path and the folders given earlier). */
    public ProfileCatalog withFolder(Path folder) {
        List<Path> all = new ArrayList<>();
        all.add(folder);
        all.addAll(folders);
        return new ProfileCatalog(all, loader);
    }

    /**
     * The profile a name or path stands for.
     *
     * @throws IllegalArgumentException when there is no such file or shipped profile, naming the ones there are
     */
    public Source locate(String nameOrPath) {
        String lower = nameOrPath.toLowerCase(Locale.ROOT);
        if (nameOrPath.contains("/") || nameOrPath.contains("\\") || EXTENSIONS.stream().anyMatch(lower::endsWith)) {
            Path file = Path.of(nameOrPath).toAbsolutePath().normalize();
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("profile file " + file + " does not exist");
            }
            return file(file);
        }
        for (Path folder : folders) {
            for (String ext : EXTENSIONS) {
                Path file = folder.resolve(nameOrPath + ext);
                if (Files.isRegularFile(file)) {
                    return file(file.toAbsolutePath().normalize());
                }
            }
        }
        for (String ext : EXTENSIONS) {
            String resource = RESOURCE_FOLDER + nameOrPath + ext;
            Optional<String> text = resource(resource);
            if (text.isPresent()) {
                return new Source("classpath:" + resource, text.get(), ext.equals(".json"),
                        Path.of("").toAbsolutePath());
            }
        }
        List<String> names = names();
        throw new IllegalArgumentException("unknown profile '" + nameOrPath + "'"
                + Suggestions.didYouMean(nameOrPath, names) + " (expected a profile file such as my-models.yaml, or "
                + "one of the shipped profiles " + String.join(", ", names) + ")");
    }

    /** The names of the shipped profiles, sorted. */
    public List<String> names() {
        TreeSet<String> names = new TreeSet<>();
        for (Path folder : folders) {
            if (Files.isDirectory(folder)) {
                try (Stream<Path> files = Files.list(folder)) {
                    files.map(p -> p.getFileName().toString())
                            .forEach(f -> EXTENSIONS.stream().filter(f::endsWith).findFirst()
                                    .ifPresent(ext -> names.add(f.substring(0, f.length() - ext.length()))));
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot list profiles in " + folder, e);
                }
            }
        }
        resource(RESOURCE_FOLDER + INDEX_FILE).ifPresent(index -> index.lines().map(String::trim)
                .filter(l -> !l.isEmpty() && !l.startsWith("#")).forEach(names::add));
        return List.copyOf(names);
    }

    private static Source file(Path file) {
        try {
            return new Source(file.toString(), new String(ParserLimits.read(file, "a profile"), StandardCharsets.UTF_8),
                    file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".json"), file.getParent());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read profile file " + file, e);
        }
    }

    private Optional<String> resource(String name) {
        try (InputStream in = loader.getResourceAsStream(name)) {
            return in == null ? Optional.empty() : Optional.of(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read class path resource " + name, e);
        }
    }
}
