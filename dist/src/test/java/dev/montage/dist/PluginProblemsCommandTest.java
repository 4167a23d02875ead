package dev.montage.dist;

import static dev.montage.dist.CommandRun.montage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.MontageApi;
import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.registry.fixture.FixtureFactory;
import dev.montage.runtime.registry.fixture.OldApiFactory;
import dev.montage.runtime.registry.fixture.OtherFixtureFactory;
import dev.montage.runtime.registry.fixture.ThrowingActivator;
import dev.montage.runtime.testing.PluginJars;
import dev.montage.runtime.weights.TensorDType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The plugin problems of a {@code --plugins} folder as a user meets them on the command line: {@code montage plugins}
 * names each broken plugin with the reason and exits 1; {@code montage generate} asked for a component only a broken
 * plugin would provide prints the plugin's problem and the unknown id and exits 2; a generation that needs none of the
 * broken plugins still runs.
 */
class PluginProblemsCommandTest {
    private static final String API = "dev.montage.api.spi;version=\"[0.2,0.3)\"";

    @TempDir
    Path plugins;

    /**
     * Lists the folder and asks a generation for the scheduler {@code id}: both name the problem and fail.
     *
     * @param listed what {@code montage plugins} prints about the broken plugin
     * @param warned what {@code montage generate} prints about it at startup
     */
    private void rejected(String id, String listed, String warned) {
        CommandRun list = montage("plugins", "--plugins", plugins.toString());
        assertEquals(1, list.code(), list::toString);
        assertTrue(list.out().contains(listed), list.out());

        CommandRun generate = montage("generate", "--plugins", plugins.toString(), "--scheduler", id, "-p", "a dog",
                "--out", plugins.resolve("never").toString());
        assertEquals(2, generate.code(), generate::toString);
        assertTrue(generate.err().contains(warned), generate.err());
        assertTrue(generate.err().contains("defaults.scheduler: no installed plugin provides the scheduler '" + id
                + "'"), generate.err());
        assertEquals("", generate.out());
        assertTrue(Files.notExists(plugins.resolve("never")), "nothing generated");
    }

    @Test
    void aPluginsFolderThatIsNoFolderIsAnErrorNamingIt() throws IOException {
        Path missing = plugins.resolve("missing");
        Path file = Files.writeString(plugins.resolve("plugin.txt"), "not a folder");
        for (Path folder : new Path[] {missing, file}) {
            String expected = "montage: --plugins " + folder + ": " + (folder == file ? "not a folder" : "no such "
                    + "folder") + "; expected a folder of plugin jars (OSGi bundles, PF4J plugins)";
            CommandRun list = montage("plugins", "--plugins", folder.toString());
            assertEquals(2, list.code(), list::toString);
            assertTrue(list.err().contains(expected), list.err());
            CommandRun generate = montage("generate", "--plugins", folder.toString(), "-p", "a dog", "--out",
                    plugins.resolve("never").toString());
            assertEquals(2, generate.code(), generate::toString);
            assertTrue(generate.err().contains(expected), generate.err());
        }
        assertTrue(Files.notExists(plugins.resolve("never")), "nothing generated");
    }

    @Test
    void incompatibleApiVersion() throws IOException {
        PluginJars.bundle("test.old", API).factories(OldApiFactory.class).classes(FixtureFactory.class)
                .writeJar(plugins.resolve("old.jar"));
        String refusal = "built for API [0.1,0.2), the host's API is " + MontageApi.VERSION;
        rejected("old-api", "refused: " + refusal, "montage: plugin osgi:test.old: scheduler 'old-api' refused: "
                + refusal);
    }

    @Test
    void incompatiblePf4jPluginRequirement() throws IOException {
        PluginJars.pf4j("future", ">=0.3.0").factories(OtherFixtureFactory.class)
                .writeJar(plugins.resolve("future.jar"));
        String problem = "requires API >=0.3.0 (Plugin-Requires), the host's API is " + MontageApi.VERSION;
        rejected("other-fixture", "failed plugins:\n  pf4j:future (" + plugins.resolve("future.jar") + "): "
                + problem, "montage: plugin pf4j:future (" + plugins.resolve("future.jar") + ") failed: " + problem);
    }

    @Test
    void duplicateId() throws IOException {
        PluginJars.bundle("test.first", API).factories(FixtureFactory.class).writeJar(plugins.resolve("1-first.jar"));
        PluginJars.bundle("test.second", API).factories(OtherFixtureFactory.class, FixtureFactory.class)
                .writeJar(plugins.resolve("2-second.jar"));
        CommandRun list = montage("plugins", "--plugins", plugins.toString());
        assertEquals(1, list.code(), list::toString);
        assertTrue(list.out().matches("(?s).*\nscheduler +fixture +osgi:test\\.second +1\\.0\\.0 +refused: duplicate scheduler "
                + "'fixture': from osgi:test\\.first .*"), list.out());
        assertTrue(list.out().matches("(?s).*\nscheduler +other-fixture +osgi:test\\.second +1\\.0\\.0 +active\n.*"),
                "the rest of the plugin is installed: " + list.out());
    }

    @Test
    void pluginsShowsEachPluginsVersionAndDescription() throws IOException {
        PluginJars.bundle("test.described", API).header("Bundle-Version", "1.4.2")
                .header("Bundle-Description", "A fixture scheduler").classes(FixtureFactory.class)
                .factories(OtherFixtureFactory.class)
                .writeJar(plugins.resolve("described.jar"));
        PluginJars.pf4j("pf4j-described", null).header("Plugin-Version", "2.0.1")
                .header("Plugin-Description", "Another fixture").factories(FixtureFactory.class)
                .writeJar(plugins.resolve("pf4j-described.jar"));
        CommandRun list = montage("plugins", "--plugins", plugins.toString());
        assertEquals(0, list.code(), list::toString);
        assertTrue(list.out().matches("(?s)KIND +ID +SOURCE +VERSION +STATE\n.*"), list.out());
        assertTrue(list.out().matches("(?s).*\nscheduler +other-fixture +osgi:test\\.described +1\\.4\\.2 +active\n.*"),
                list.out());
        assertTrue(list.out().matches("(?s).*\nscheduler +fixture +pf4j:pf4j-described +2\\.0\\.1 +active\n.*"),
                list.out());
        assertTrue(list.out().contains("\nplugins:\n"), list.out());
        assertTrue(list.out().contains("\n  osgi:test.described 1.4.2: A fixture scheduler\n"), list.out());
        assertTrue(list.out().contains("\n  pf4j:pf4j-described 2.0.1: Another fixture\n"), list.out());
        // the built-in plugins on the test classpath: described by their bundle manifests
        assertTrue(list.out().matches("(?s).*\n  classpath \\S+ \\d+\\.\\d+\\.\\d+\\S*: SDXL UNet with its attention "
                + "processors.*"), list.out());
    }

    @Test
    void bundleThatFailsToResolve() throws IOException {
        PluginJars.bundle("test.unresolved", API + ",com.example.missing").factories(OtherFixtureFactory.class)
                .writeJar(plugins.resolve("unresolved.jar"));
        String name = "osgi:test.unresolved (" + plugins.resolve("unresolved.jar") + ")";
        rejected("other-fixture", "failed plugins:\n  " + name + ": ", "montage: plugin " + name + " failed: ");
        assertTrue(montage("plugins", "--plugins", plugins.toString()).out()
                .contains("osgi.wiring.package=com.example.missing"), "names the missing package");
    }

    @Test
    void bundleThatThrowsInStart() throws IOException {
        PluginJars.bundle("test.throwing", API + ",org.osgi.framework")
                .header("Bundle-Activator", ThrowingActivator.class.getName()).classes(ThrowingActivator.class)
                .factories(OtherFixtureFactory.class).writeJar(plugins.resolve("throwing.jar"));
        String name = "osgi:test.throwing (" + plugins.resolve("throwing.jar") + ")";
        rejected("other-fixture", "activator fixture refuses to start", "montage: plugin " + name + " failed: ");
    }

    @Test
    void aGenerationThatNeedsNoBrokenPluginStillRuns(@TempDir Path model) throws IOException {
        RandomModel.write(model, "tiny", TensorDType.F32, 5,
                ComponentRegistry.fromClasspath(getClass().getClassLoader()));
        PluginJars.bundle("test.old", API).factories(OldApiFactory.class).classes(FixtureFactory.class)
                .writeJar(plugins.resolve("old.jar"));
        PluginJars.bundle("test.unresolved", API + ",com.example.missing").factories(OtherFixtureFactory.class)
                .writeJar(plugins.resolve("unresolved.jar"));
        CommandRun run = montage("generate", "--plugins", plugins.toString(), "--model", model.toString(), "-p", "a dog",
                "--width", "64", "--height", "64", "--steps", "2", "--out", plugins.resolve("images").toString());
        assertEquals(0, run.code(), run::toString);
        assertTrue(run.err().contains("montage: plugin osgi:test.old: scheduler 'old-api' refused: "), run.err());
        assertTrue(run.err().contains("montage: plugin osgi:test.unresolved ("), run.err());
        assertTrue(Files.isRegularFile(Path.of(run.out().trim())), run.out());
    }
}
