package dev.montage.runtime.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Where the checks of a resolved profile's values report their problems: each by its dotted key, with the source of
 * the value (file and line, environment variable, flag, or the built-in defaults) looked up for it. The resolver
 * throws them all at once in a {@link ProfileException} once every check has run.
 */
public final class ProfileChecks {
    private final SettingsTree tree;
    private final List<ProfileProblem> problems;

    ProfileChecks(SettingsTree tree, List<ProfileProblem> problems) {
        this.tree = tree;
        this.problems = problems;
    }

    /**
     * Reports a problem of a key's value.
     *
     * @param key     dotted key, e.g. {@code server.port}
     * @param message what is wrong and what was expected
     */
    public void problem(String key, String message) {
        problemAt(key, key, message);
    }

    /** A problem of {@code key} caused by the value of {@code originKey}, whose source it names. */
    void problemAt(String originKey, String key, String message) {
        problems.add(new ProfileProblem(tree.origin(originKey, ProfileResolver.DEFAULTS_SOURCE), key, message));
    }

    /**
     * Reports {@code value} unless it is at least {@code min}, as "expected {@code min} or more {@code what}".
     *
     * @param what the unit in plural, e.g. {@code threads}
     */
    public void atLeast(String key, long value, long min, String what) {
        if (value < min) {
            problem(key, "expected " + min + " or more " + what + ", got " + value);
        }
    }

    /**
     * Reports {@code file} unless it is a regular file.
     *
     * @param expected what the file should be, e.g. {@code a file holding the bearer token}
     * @return whether it is one
     */
    public boolean file(String key, Path file, String expected) {
        return is(key, file, Files.isRegularFile(file), "file", expected);
    }

    /**
     * Reports {@code folder} unless it is a directory.
     *
     * @param expected what the folder should hold, e.g. {@code a folder of LoRA files}
     * @return whether it is one
     */
    public boolean folder(String key, Path folder, String expected) {
        return is(key, folder, Files.isDirectory(folder), "folder", expected);
    }

    private boolean is(String key, Path path, boolean is, String kind, String expected) {
        if (!is) {
            problem(key, path + (Files.exists(path) ? " is not a " + kind : " does not exist") + "; expected "
                    + expected);
        }
        return is;
    }
}
