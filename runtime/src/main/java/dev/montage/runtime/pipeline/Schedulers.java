package dev.montage.runtime.pipeline;

import dev.montage.api.ConfigurationException;
import dev.montage.api.FieldError;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.Options;
import dev.montage.api.spi.Scheduler;
import dev.montage.api.spi.Suggestions;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The schedulers a pipeline can run, by id: instances given to the builder, and registered ones that are created
 * the first time a request names them, so that a plugin scheduler that cannot be created fails only the requests
 * that use it. Safe to use from several generations at once; each scheduler is created once. Closing releases the
 * created ones that hold resources ({@link AutoCloseable}); the instances given belong to their owner.
 */
final class Schedulers implements AutoCloseable {

    /**
     * How to create a registered scheduler.
     *
     * @param source  the plugin it comes from, for messages
     * @param options the settings its factory declares, which a request may give
     * @param creator creates it
     */
    record Lazy(String source, List<OptionSpec<?>> options, Supplier<Scheduler> creator) {
    }

    private final Map<String, Lazy> lazy;
    private final Map<String, Scheduler> created = new ConcurrentHashMap<>();
    private final Set<String> given;

    /**
     * @param instances schedulers that exist already, by id
     * @param lazy      schedulers to create on first use, by id (an instance of the same id wins)
     */
    Schedulers(Map<String, Scheduler> instances, Map<String, Lazy> lazy) {
        this.lazy = Map.copyOf(lazy);
        this.given = Set.copyOf(instances.keySet());
        created.putAll(instances);
    }

    /** Every id, sorted. */
    List<String> ids() {
        Set<String> all = new TreeSet<>(lazy.keySet());
        all.addAll(created.keySet());
        return List.copyOf(all);
    }

    /** Whether a scheduler of that id exists or can be created. */
    boolean contains(String id) {
        return created.containsKey(id) || lazy.containsKey(id);
    }

    /**
     * The scheduler of an id, created now if this is its first use.
     *
     * @throws InvalidRequestException naming the id, the closest one and the ids there are when there is no such
     *     scheduler (field {@code scheduler})
     * @throws ConfigurationException naming the id and its plugin when creating it fails
     */
    Scheduler get(String id) {
        if (!contains(id)) {
            throw new InvalidRequestException(List.of(new FieldError("scheduler", "unknown scheduler '" + id + "'"
                    + Suggestions.didYouMean(id, ids()) + ", expected one of " + ids())));
        }
        return created.computeIfAbsent(id, this::create);
    }

    /**
     * The scheduler of an id with a request's settings laid over its own.
     *
     * @throws InvalidRequestException as {@link #problems} names them
     * @throws ConfigurationException as {@link #get}
     */
    Scheduler forRequest(String id, Map<String, String> options) {
        List<FieldError> declared = declaredProblems(id, options);
        if (!declared.isEmpty()) {
            throw new InvalidRequestException(declared);
        }
        try {
            return withOptions(id, options);
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException(List.of(refusal(id, options, e)));
        }
    }

    /**
     * What is wrong with a request's scheduler and its settings: an unknown id (field {@code scheduler}), a setting
     * the scheduler's factory does not declare or a value it refuses (field {@code schedulerOptions.<name>}), or
     * settings the scheduler itself refuses (field {@code schedulerOptions}).
     *
     * @throws ConfigurationException as {@link #get}, when the scheduler is checked by creating it
     */
    List<FieldError> problems(String id, Map<String, String> options) {
        List<FieldError> declared = declaredProblems(id, options);
        if (!declared.isEmpty() || options.isEmpty()) {
            return declared;
        }
        try {
            withOptions(id, options);
            return List.of();
        } catch (IllegalArgumentException e) {
            return List.of(refusal(id, options, e));
        }
    }

    /** An unknown id, or settings the scheduler's factory does not declare or whose values it refuses. */
    private List<FieldError> declaredProblems(String id, Map<String, String> options) {
        if (!contains(id)) {
            return List.of(new FieldError("scheduler", "unknown scheduler '" + id + "'" + Suggestions.didYouMean(id,
                    ids()) + ", expected one of " + ids()));
        }
        Lazy entry = lazy.get(id);
        if (options.isEmpty() || entry == null || given.contains(id)) {
            return List.of();
        }
        return Options.check(entry.options(), options, "scheduler '" + id + "'").stream()
                .map(p -> new FieldError("schedulerOptions." + p.name(), p.message())).toList();
    }

    private static FieldError refusal(String id, Map<String, String> options, IllegalArgumentException e) {
        return new FieldError("schedulerOptions", "scheduler '" + id + "' refuses " + options + ": " + e.getMessage());
    }

    private Scheduler withOptions(String id, Map<String, String> options) {
        Scheduler scheduler = get(id);
        return options.isEmpty() ? scheduler : scheduler.withOverrides(options);
    }

    private Scheduler create(String id) {
        Lazy entry = lazy.get(id);
        try {
            Scheduler scheduler = entry.creator().get();
            if (scheduler == null) {
                throw new IllegalStateException("its factory returned null");
            }
            return scheduler;
        } catch (RuntimeException | LinkageError e) {
            throw new ConfigurationException("scheduler '" + id + "' from plugin " + entry.source()
                    + " could not be created: " + e, e);
        }
    }

    @Override
    public void close() {
        created.forEach((id, scheduler) -> {
            if (!given.contains(id) && scheduler instanceof AutoCloseable closeable) {
                try {
                    closeable.close();
                } catch (Exception e) {
                    // releasing a plugin's resources; nothing to recover, keep releasing the rest
                }
            }
        });
    }
}
