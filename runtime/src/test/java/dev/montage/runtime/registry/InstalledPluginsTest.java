package dev.montage.runtime.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.MontageApi;
import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.Scheduler;
import dev.montage.runtime.registry.fixture.FixtureFactory;
import dev.montage.runtime.registry.fixture.OldApiFactory;
import dev.montage.runtime.registry.fixture.OtherFixtureFactory;
import dev.montage.runtime.registry.fixture.ServiceActivator;
import dev.montage.runtime.registry.fixture.ThrowingActivator;
import dev.montage.runtime.registry.fixture.ThrowingPlugin;
import dev.montage.runtime.testing.PluginJars;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The three plugin sources feeding one registry, with test plugins packaged as a third party would. */
class InstalledPluginsTest {
    private static final String API = "dev.montage.api.spi;version=\"[0.2,0.3)\"";

    @TempDir
    Path plugins;

    private static PluginReport report(InstalledPlugins installed, String name) {
        return installed.reports().stream().filter(r -> r.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no report of " + name + " in " + installed.reports()));
    }

    private static String problems(PluginReport r) {
        return String.join("; ", r.problems());
    }

    @Test
    void bundleListsItsFactoriesInItsProviderFile() throws Exception {
        PluginJars.bundle("test.fixture", API).factories(FixtureFactory.class).writeJar(plugins.resolve("a.jar"));
        try (InstalledPlugins installed = InstalledPlugins.builder().folder(plugins).load()) {
            ComponentRegistry.Entry entry = installed.registry().entries().get(0);
            assertEquals("fixture", entry.id());
            assertEquals("osgi:test.fixture", entry.source());
            // the bundle's own copy of the class, not the test's
            assertNotSame(FixtureFactory.class, entry.factory().getClass());
            assertTrue(report(installed, "osgi:test.fixture").healthy());
        }
    }

    @Test
    void bundleMayOfferFactoriesAsOsgiServices() throws Exception {
        PluginJars.bundle("test.service", API + ",org.osgi.framework")
                .header("Bundle-Activator", ServiceActivator.class.getName())
                .classes(ServiceActivator.class, FixtureFactory.class, OtherFixtureFactory.class)
                .writeJar(plugins.resolve("service.jar"));
        try (InstalledPlugins installed = InstalledPlugins.builder().folder(plugins).load()) {
            assertEquals(List.of("other-fixture"), installed.registry().ids(ComponentKind.SCHEDULER));
            assertEquals("osgi:test.service", installed.registry().entries().get(0).source());
        }
    }

    @Test
    void bundleFailuresAreReportedByNameAndTheRestStarts() throws Exception {
        PluginJars.bundle("test.good", API).factories(FixtureFactory.class).writeJar(plugins.resolve("1-good.jar"));
        PluginJars.bundle("test.future", "dev.montage.api.spi;version=\"[0.3,0.4)\"")
                .factories(OtherFixtureFactory.class, FixtureFactory.class).writeJar(plugins.resolve("2-future.jar"));
        PluginJars.bundle("test.throwing", API + ",org.osgi.framework")
                .header("Bundle-Activator", ThrowingActivator.class.getName())
                .classes(ThrowingActivator.class).factories(OtherFixtureFactory.class, FixtureFactory.class)
                .writeJar(plugins.resolve("3-throwing.jar"));
        PluginJars.bundle("test.old", API).factories(OldApiFactory.class, FixtureFactory.class)
                .writeJar(plugins.resolve("4-old.jar"));
        PluginJars.plain().classes(FixtureFactory.class).writeJar(plugins.resolve("5-plain.jar"));
        Files.writeString(plugins.resolve("README.txt"), "not a plugin, ignored");
        try (InstalledPlugins installed = InstalledPlugins.builder().folder(plugins).load()) {
            assertEquals(List.of("fixture"), installed.registry().ids(ComponentKind.SCHEDULER));
            assertEquals("osgi:test.good", installed.registry().entries().get(0).source());

            PluginReport future = report(installed, "osgi:test.future");
            assertEquals(PluginReport.State.FAILED, future.state());
            assertTrue(problems(future).contains("osgi.wiring.package=dev.montage.api.spi"), problems(future));

            PluginReport throwing = report(installed, "osgi:test.throwing");
            assertEquals(PluginReport.State.FAILED, throwing.state());
            assertTrue(problems(throwing).contains("activator fixture refuses to start"), problems(throwing));

            PluginReport old = report(installed, "osgi:test.old");
            assertEquals(PluginReport.State.ACTIVE, old.state());
            PluginReport.Component oldApi = old.components().get(0);
            assertEquals("old-api", oldApi.id());
            assertEquals("built for API [0.1,0.2), the host's API is " + MontageApi.VERSION, oldApi.refusal());
            PluginReport.Component duplicate = old.components().get(1);
            assertTrue(duplicate.refusal().startsWith("duplicate scheduler 'fixture': from osgi:test.good"),
                    duplicate.refusal());

            PluginReport plain = report(installed, "5-plain.jar");
            assertEquals(PluginReport.State.FAILED, plain.state());
            assertTrue(problems(plain).startsWith("neither an OSGi bundle"), problems(plain));

            assertEquals(5, installed.reports().size(), "README.txt is no plugin: " + installed.reports());
            assertEquals(4, installed.problems().size());
        }
    }

    @Test
    void pf4jJarAndZipPlugins() throws Exception {
        PluginJars.pf4j("fixture-jar", ">=0.2.0 & <0.3.0").factories(FixtureFactory.class)
                .writeJar(plugins.resolve("fixture.jar"));
        PluginJars.plain().classes(FixtureFactory.class).factories(OtherFixtureFactory.class)
                .writePf4jZip(plugins.resolve("fixture.zip"), "fixture-zip", ">=0.2.0");
        try (InstalledPlugins installed = InstalledPlugins.builder().folder(plugins).load()) {
            ComponentRegistry registry = installed.registry();
            assertEquals(List.of("fixture", "other-fixture"), registry.ids(ComponentKind.SCHEDULER));
            assertEquals("pf4j:fixture-jar", registry.entries().get(0).source());
            assertEquals("pf4j:fixture-zip", registry.entries().get(1).source());
            assertTrue(installed.problems().isEmpty(), installed.problems().toString());
        }
        try (Stream<Path> files = Files.list(plugins)) {
            assertEquals(2, files.count(), "the zip is unpacked elsewhere, the plugins folder stays as it was");
        }
    }

    @Test
    void pf4jFailuresAreReportedByName() throws Exception {
        PluginJars.pf4j("good", null).factories(FixtureFactory.class).writeJar(plugins.resolve("good.jar"));
        PluginJars.pf4j("future", ">=0.3.0").factories(OtherFixtureFactory.class, FixtureFactory.class)
                .writeJar(plugins.resolve("future.jar"));
        PluginJars.pf4j("throwing", null).header("Plugin-Class", ThrowingPlugin.class.getName())
                .classes(ThrowingPlugin.class).factories(OtherFixtureFactory.class, FixtureFactory.class)
                .writeJar(plugins.resolve("throwing.jar"));
        try (InstalledPlugins installed = InstalledPlugins.builder().folder(plugins).load()) {
            assertEquals(List.of("fixture"), installed.registry().ids(ComponentKind.SCHEDULER));
            PluginReport future = report(installed, "pf4j:future");
            assertEquals(PluginReport.State.FAILED, future.state());
            assertEquals("requires API >=0.3.0 (Plugin-Requires), the host's API is " + MontageApi.VERSION,
                    problems(future));
            PluginReport throwing = report(installed, "pf4j:throwing");
            assertEquals(PluginReport.State.FAILED, throwing.state());
            assertTrue(problems(throwing).contains("pf4j fixture refuses to start"), problems(throwing));
        }
    }

    @Test
    void pf4jPluginPackingItsOwnApiStillUsesTheHosts() throws Exception {
        PluginJars.pf4j("own-api", null).classes(ComponentFactory.class, ComponentKind.class, Scheduler.class)
                .factories(FixtureFactory.class).writeJar(plugins.resolve("own-api.jar"));
        try (InstalledPlugins installed = InstalledPlugins.builder().folder(plugins).load()) {
            assertTrue(installed.problems().isEmpty(), installed.problems().toString());
            ComponentFactory<Scheduler> f = installed.registry().factory(ComponentKind.SCHEDULER, "fixture",
                    Scheduler.class);
            assertNotSame(FixtureFactory.class, f.getClass(), "the plugin's own class");
            assertEquals(ComponentFactory.class, f.getClass().getInterfaces()[0], "the host's api");
        }
    }

    @Test
    void classpathComesFirstAndAFolderCannotTakeItsIds() throws Exception {
        Path jar = PluginJars.plain().factories(FixtureFactory.class).writeJar(Files.createTempFile("cp", ".jar"));
        PluginJars.bundle("test.again", API).factories(FixtureFactory.class).writeJar(plugins.resolve("again.jar"));
        try (URLClassLoader classpath = new URLClassLoader(new URL[] {jar.toUri().toURL()},
                getClass().getClassLoader());
                InstalledPlugins installed = InstalledPlugins.builder().classpath(classpath).folder(plugins).load()) {
            assertEquals("classpath", installed.registry().entries().get(0).source());
            PluginReport again = report(installed, "osgi:test.again");
            assertTrue(again.components().get(0).refusal().startsWith("duplicate scheduler 'fixture': from classpath"),
                    again.components().get(0).refusal());
        } finally {
            Files.delete(jar);
        }
    }

    @Test
    void reportsEachPluginsVersionAndDescription() throws Exception {
        PluginJars.bundle("test.described", API).header("Bundle-Version", "1.4.2")
                .header("Bundle-Description", "A fixture\n  on two lines").factories(FixtureFactory.class)
                .writeJar(plugins.resolve("described.jar"));
        PluginJars.pf4j("pf4j-described", null).header("Plugin-Version", "2.0.1")
                .header("Plugin-Description", "Another fixture").factories(OtherFixtureFactory.class)
                .writeJar(plugins.resolve("pf4j-described.jar"));
        Path jar = PluginJars.plain().header("Implementation-Version", "3.1")
                .header("Implementation-Title", "A classpath fixture").factories(FixtureFactory.class)
                .writeJar(Files.createTempFile("cp", ".jar"));
        try (InstalledPlugins folder = InstalledPlugins.builder().folder(plugins).load();
                URLClassLoader loader = new URLClassLoader(new URL[] {jar.toUri().toURL()},
                        getClass().getClassLoader());
                InstalledPlugins classpath = InstalledPlugins.builder().classpath(loader).load()) {
            assertEquals(new PluginReport.About("1.4.2", "A fixture on two lines"),
                    report(folder, "osgi:test.described").about());
            assertEquals(new PluginReport.About("2.0.1", "Another fixture"),
                    report(folder, "pf4j:pf4j-described").about());
            // the classpath: one report per jar or folder the factories' classes come from (here the test
            // classes, the jar's provider file names), described by its manifest
            assertEquals(new PluginReport.About("3.1", "A classpath fixture"), InstalledPlugins.about(jar));
            String testClasses = Path.of(FixtureFactory.class.getProtectionDomain().getCodeSource().getLocation()
                    .toURI()).toString();
            PluginReport tests = classpath.reports().stream().filter(r -> r.location().equals(testClasses))
                    .findFirst().orElseThrow(() -> new AssertionError(classpath.reports().toString()));
            assertEquals("classpath", tests.name());
            assertTrue(tests.components().stream().anyMatch(c -> c.id().equals("fixture")), tests.toString());
        } finally {
            Files.delete(jar);
        }
    }

    @Test
    void apiVersionRanges() {
        assertNull(InstalledPlugins.incompatibility(new FixtureFactory()));
        assertTrue(InstalledPlugins.incompatibility(new OldApiFactory()).startsWith("built for API [0.1,0.2)"));
        assertTrue(InstalledPlugins.incompatibility(new FixtureFactory() {
            @Override
            public String apiVersionRange() {
                return "0.1 or later";
            }
        }).contains("is not an OSGi version range"));
    }

    /** A factory whose package and class declare no API version. */
    private static final class Undeclared implements ComponentFactory<Scheduler> {
        @Override
        public ComponentKind kind() {
            return ComponentKind.SCHEDULER;
        }

        @Override
        public String id() {
            return "undeclared";
        }

        @Override
        public Scheduler create(ComponentContext context) {
            throw new UnsupportedOperationException();
        }
    }

    @Test
    void theApiVersionIsTheOneThePluginWasCompiledAgainst() throws IOException {
        assertEquals(MontageApi.COMPATIBLE_RANGE, new FixtureFactory().apiVersionRange());
        assertEquals("declares no API version: annotate its package or factory with "
                + "@BuiltFor(MontageApi.COMPATIBLE_RANGE)", InstalledPlugins.incompatibility(new Undeclared()));
        // the compiler copied the range into the plugin's class file: a host with another API reads the old range
        try (InputStream in = FixtureFactory.class.getResourceAsStream("FixtureFactory.class")) {
            String classFile = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
            assertTrue(classFile.contains(MontageApi.COMPATIBLE_RANGE), "the range is a constant in the class file");
            assertFalse(classFile.contains("COMPATIBLE_RANGE"), "no reference to the host's field");
        }
    }

    @Test
    void hostExportsTheApiDjlAndJacksonWithVersions() {
        String exports = HostPackages.systemPackagesExtra(getClass().getClassLoader());
        assertTrue(exports.contains("dev.montage.api.spi;version=\"" + MontageApi.VERSION + "\""),
                "the api bundle's export version is MontageApi.VERSION: " + exports);
        assertTrue(exports.contains("ai.djl.ndarray;version=\"0.35.1\""), exports);
        assertTrue(exports.contains("ai.djl.pytorch.jni;version=\"0.35.1\""), exports);
        assertTrue(exports.contains("com.fasterxml.jackson.databind;version=\"2.18.2\""), exports);
    }

    @Test
    void aJarThatIsBothIsABundle() throws Exception {
        Path both = PluginJars.bundle("test.both", API).header("Plugin-Id", "both").writeJar(plugins.resolve("b.jar"));
        assertEquals(new PluginFolder.Candidate(both, PluginFolder.Kind.OSGI, "osgi:test.both"),
                PluginFolder.classify(both));
    }
}
