package dev.montage.runtime.pipeline;

import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;

/**
 * A component chosen either by the id it is registered under or as an instance the application made.
 *
 * @param <T> the component's type
 */
sealed interface ComponentChoice<T> {

    /** The registered component {@code id}. */
    static <T> ComponentChoice<T> byId(String id) {
        return new ById<>(id);
    }

    /** The given instance, which the caller keeps owning. */
    static <T> ComponentChoice<T> instance(T component) {
        return new Instance<>(component);
    }

    /** The component: the instance, or what {@code create} makes of the id. */
    T resolve(Function<String, T> create);

    /** The registered id, when chosen by id. */
    Optional<String> registeredId();

    /** Chosen by id. */
    record ById<T>(String id) implements ComponentChoice<T> {
        public ById {
            Objects.requireNonNull(id, "id");
        }

        @Override
        public T resolve(Function<String, T> create) {
            return create.apply(id);
        }

        @Override
        public Optional<String> registeredId() {
            return Optional.of(id);
        }
    }

    /** Given as an instance. */
    record Instance<T>(T component) implements ComponentChoice<T> {
        public Instance {
            Objects.requireNonNull(component, "component");
        }

        @Override
        public T resolve(Function<String, T> create) {
            return component;
        }

        @Override
        public Optional<String> registeredId() {
            return Optional.empty();
        }
    }
}
