package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.dist.server.ServerSection;
import dev.montage.runtime.config.Profile;
import dev.montage.runtime.config.ProfileCatalog;
import dev.montage.runtime.config.ProfileException;
import dev.montage.runtime.config.ProfileResolver;
import dev.montage.runtime.config.ResolvedProfile;
import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.weights.TensorDType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The shipped profiles: listed, and valid with the embedded default model and with a real-format model folder. */
class ShippedProfilesTest {
    private static final Path SOURCES = Path.of("src/main/resources", ProfileCatalog.RESOURCE_FOLDER);
    @TempDir
    static Path dir;
    private static ComponentRegistry registry;
    private static final ProfileCatalog CATALOG = ProfileCatalog.classpath(ShippedProfilesTest.class.getClassLoader());

    /** A resolver of the profiles as the montage command reads them, the server's section included. */
    private static ProfileResolver resolver() {
        return new ProfileResolver(CATALOG, registry).section(ServerSection.PROFILE);
    }

    @BeforeAll
    static void writeModel() throws IOException {
        registry = ComponentRegistry.fromClasspath(ShippedProfilesTest.class.getClassLoader());
        RandomModel.write(dir, "tiny", TensorDType.F32, 1, registry);
    }

    @Test
    void theIndexListsEveryShippedProfile() throws IOException {
        try (Stream<Path> files = Files.list(SOURCES)) {
            List<String> yaml = files.map(p -> p.getFileName().toString()).filter(f -> f.endsWith(".yaml"))
                    .map(f -> f.substring(0, f.length() - ".yaml".length())).sorted().toList();
            assertEquals(List.of("cpu", "cuda-fp16", "ip-adapter", "server"), yaml);
            // and the runtime's own
            assertEquals(List.of("cpu", "cuda-fp16", "ip-adapter", "server", "tiny"), CATALOG.names());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny", "cpu", "cuda-fp16", "server"})
    void validWithTheEmbeddedModelAndWithAModelFolder(String name) {
        ResolvedProfile alone = resolver().resolve(List.of(name));
        assertEquals(name.equals("tiny") ? Optional.of("tiny") : Optional.empty(), alone.profile().models().random());
        assertEquals(!name.equals("tiny"), alone.profile().models().isEmpty());
        Profile withModel = resolver().requireModels()
                .environment(java.util.Map.of("MONTAGE_MODELS_BASE", dir.toString()))
                .resolve(List.of(name)).profile();
        assertEquals(Optional.of(dir), withModel.models().base());
        assertEquals(Optional.empty(), withModel.models().random());
        assertTrue(alone.describe().startsWith("# profile: " + name + "\n"));
    }

    /** The ip-adapter profile needs its checkpoint besides the model folder, and says so. */
    @Test
    void ipAdapterNeedsItsCheckpoint() {
        ProfileException missing = assertThrows(ProfileException.class, () -> resolver().requireModels()
                .environment(java.util.Map.of("MONTAGE_MODELS_BASE", dir.toString())).resolve(List.of("ip-adapter")));
        assertTrue(missing.getMessage().contains("models.ip_adapter: not set"), missing.getMessage());
        Path checkpoint = Golden.dir().resolve("ip-adapter/ip-adapter_tiny.bin").toAbsolutePath().normalize();
        Profile withCheckpoint = resolver().requireModels()
                .environment(java.util.Map.of("MONTAGE_MODELS_BASE", dir.toString(), "MONTAGE_MODELS_IP_ADAPTER",
                        checkpoint.toString()))
                .resolve(List.of("ip-adapter")).profile();
        assertEquals(Optional.of(checkpoint), Optional.ofNullable(withCheckpoint.models().files().get("ip_adapter")));
    }

    @Test
    void theirSettings() {
        Profile tiny = resolver().resolve(List.of("tiny")).profile();
        assertEquals("cpu", tiny.engine().device());
        assertEquals(256, tiny.defaults().width());
        Profile ip = resolver().resolve(List.of("ip-adapter")).profile();
        assertEquals(Optional.of("ip-adapter"), ip.components().resampler());
        assertEquals(Optional.of("ip-adapter"), ip.components().attention().cross());
        Profile gpu = resolver().resolve(List.of("cuda-fp16")).profile();
        assertEquals("float16", gpu.engine().dtype());
        assertEquals(Optional.of("fp16"), gpu.models().variant());
        ResolvedProfile served = resolver().resolve(List.of("cpu", "server"));
        assertEquals("127.0.0.1", served.section(ServerSection.PROFILE).host());
        Profile server = served.profile();
        assertFalse(server.pipeline().releaseEncoders(), "a server keeps its encoders loaded");
        assertFalse(server.pipeline().releaseDenoiser(), "a server keeps its UNet loaded");
        Profile cpu = resolver().resolve(List.of("cpu")).profile();
        assertTrue(cpu.pipeline().releaseEncoders(), "the cpu profile releases its encoders after encoding");
        assertTrue(cpu.pipeline().releaseDenoiser(), "the cpu profile releases its UNet before decoding");
    }

    @Test
    void aRandomModelAndABaseModelReplaceEachOtherLayerByLayer() throws IOException {
        Path mine = Files.writeString(dir.resolve("mine.yaml"), "models: {base: .}\n");
        Profile tinyLast = resolver().resolve(List.of(mine.toString(), "tiny")).profile();
        assertEquals(Optional.empty(), tinyLast.models().base());
        assertEquals(Optional.of("tiny"), tinyLast.models().random());
        Profile mineLast = resolver().resolve(List.of("tiny", mine.toString())).profile();
        assertEquals(Optional.of(dir), mineLast.models().base());
        assertEquals(Optional.empty(), mineLast.models().random());

        Path both = Files.writeString(dir.resolve("both.yaml"), "models: {base: ., random: tiny}\n");
        ProfileException e = assertThrows(ProfileException.class,
                () -> resolver().resolve(List.of(both.toString())));
        assertTrue(e.getMessage().contains("models.random: set beside models.base in the same layer"),
                e.getMessage());
    }

    @Test
    void anUnknownRandomModelIsAProblemWithTheRecipesNames() throws IOException {
        Path typo = Files.writeString(dir.resolve("typo.yaml"), "models: {random: tiyn}\n");
        ProfileException e = assertThrows(ProfileException.class,
                () -> resolver().resolve(List.of(typo.toString())));
        assertTrue(e.getMessage().contains("models.random: 'tiyn' is not a random model of ms-diffusion-sdxl; "
                + "expected one of tiny, sdxl; did you mean tiny?"), e.getMessage());
    }
}
