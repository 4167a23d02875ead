package dev.montage.runtime.pipeline;

import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The weights managers of the components of one context, each capped at what it holds when its load finishes. A
 * component's manager is for its weights only: an array of a generation attached to it would outlive the generation
 * and pile up with every later one, so a generation that leaves any behind fails, naming the component.
 */
final class WeightManagers {

    /** One component's manager, created on first use, and its array count when sealed (-1 before). */
    private static final class Capped {
        final String component;
        NDManager manager;
        int cap = -1;

        Capped(String component) {
            this.component = component;
        }
    }

    private final List<Capped> all = new ArrayList<>();

    /** A component's weights manager: a sub-manager of {@code parent}, created when the component first asks. */
    synchronized Supplier<NDManager> of(String component, NDManager parent) {
        Capped c = new Capped(component);
        all.add(c);
        return () -> {
            synchronized (this) {
                if (c.manager == null) {
                    c.manager = parent.newSubManager();
                }
                return c.manager;
            }
        };
    }

    /** Caps every manager created and not capped yet at what it holds now. */
    synchronized void seal() {
        for (Capped c : all) {
            if (c.manager != null && c.cap < 0) {
                c.cap = c.manager.getManagedArrays().size();
            }
        }
    }

    /** @throws IllegalStateException naming every open, capped manager that holds more than its cap */
    synchronized void check() {
        all.removeIf(c -> c.manager != null && !c.manager.isOpen());
        List<String> over = new ArrayList<>();
        for (Capped c : all) {
            if (c.cap >= 0) {
                int held = c.manager.getManagedArrays().size();
                if (held > c.cap) {
                    over.add(c.component + " kept " + (held - c.cap) + " arrays beyond its " + c.cap + " weights");
                }
            }
        }
        if (!over.isEmpty()) {
            throw new IllegalStateException(String.join("; ", over) + ": a component keeps only its weights in its "
                    + "manager; what a generation computes belongs to the generation's manager");
        }
    }
}
