package dev.montage.runtime.engine;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The TorchScript source of one kernel, read from the resource {@code kernels/<name>.py} beside this class.
 *
 * <p>A resource holds one method definition ({@code def forward(self, ...)}) starting at column 0; it is indented
 * here as the body of {@link TorchScriptArchive}'s class. It may hold named placeholders {@code ${name}}, filled by
 * {@link #fill}: the values a kernel variant is written for (a group count, a chunk size, ...) and, in every source,
 * the dtypes of {@link ScalarType}.
 */
final class KernelSource {
    static final String FOLDER = "kernels/";
    private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{([a-z0-9_]+)}");
    private static final Map<String, String> DTYPES = dtypes();

    private final String resource;
    /** The text around the placeholders: one more piece than {@link #names}. */
    private final List<String> pieces = new ArrayList<>();
    private final List<String> names = new ArrayList<>();

    private KernelSource(String resource, String text) {
        this.resource = resource;
        Matcher m = PLACEHOLDER.matcher(text);
        int end = 0;
        while (m.find()) {
            pieces.add(text.substring(end, m.start()));
            names.add(m.group(1));
            end = m.end();
        }
        pieces.add(text.substring(end));
    }

    /**
     * Reads the kernel source {@code name}.
     *
     * @throws IllegalStateException naming the resource when it is missing or unreadable
     */
    static KernelSource read(String name) {
        String resource = KernelSource.class.getPackageName().replace('.', '/') + "/" + FOLDER + name + ".py";
        try (InputStream in = KernelSource.class.getResourceAsStream(FOLDER + name + ".py")) {
            if (in == null) {
                throw new IllegalStateException("the TorchScript kernel resource " + resource
                        + " is missing from the class path");
            }
            String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            return new KernelSource(resource, text.lines().map(line -> line.isEmpty() ? line : "  " + line)
                    .collect(Collectors.joining("\n", "", "\n")));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the TorchScript kernel resource " + resource, e);
        }
    }

    /** The kernel source {@code name}, whose only placeholders are dtypes. */
    static String fixed(String name) {
        return read(name).fill(Map.of());
    }

    /**
     * The source with each placeholder replaced by the string value of its entry in {@code values}, and the dtype
     * placeholders by their ids.
     *
     * @throws IllegalArgumentException naming the resource, when a placeholder has no value or a value no placeholder
     */
    String fill(Map<String, ?> values) {
        Set<String> unused = new HashSet<>(values.keySet());
        StringBuilder source = new StringBuilder(pieces.get(0));
        for (int i = 0; i < names.size(); i++) {
            String name = names.get(i);
            Object value = values.containsKey(name) ? values.get(name) : DTYPES.get(name);
            if (value == null) {
                throw new IllegalArgumentException(resource + " needs a value for ${" + name + "}, got only "
                        + new TreeSet<>(values.keySet()));
            }
            unused.remove(name);
            source.append(value).append(pieces.get(i + 1));
        }
        if (!unused.isEmpty()) {
            throw new IllegalArgumentException(resource + " has no placeholder for " + new TreeSet<>(unused));
        }
        return source.toString();
    }

    /**
     * The values of an optional tensor parameter {@code name}: {@code ${<name>_param}} declares it after the
     * parameters before it, {@code ${<name>}} is the argument it gives, converted to {@code dtype} unless that is
     * null, or {@code None} when absent.
     */
    static Map<String, String> optionalTensor(String name, boolean present, String dtype) {
        if (!present) {
            return Map.of(name + "_param", "", name, "None");
        }
        return Map.of(name + "_param", ", " + name + ": Tensor",
                name, dtype == null ? name : "torch.to(" + name + ", " + dtype + ")");
    }

    private static Map<String, String> dtypes() {
        Map<String, String> ids = new HashMap<>();
        for (ScalarType type : ScalarType.values()) {
            ids.put(type.placeholder(), Integer.toString(type.id()));
        }
        return Map.copyOf(ids);
    }
}
