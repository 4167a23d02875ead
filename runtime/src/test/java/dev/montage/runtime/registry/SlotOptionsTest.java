package dev.montage.runtime.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.OptionSpec;
import dev.montage.runtime.testing.TestFactory;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SlotOptionsTest {
    private static final OptionSpec<Integer> TOKENS = OptionSpec.integer("text_tokens", 1, 100, "text tokens")
            .withDefault(77);

    private static ComponentFactory<Object> factory(ComponentKind kind, String id, List<OptionSpec<?>> options) {
        return TestFactory.uncreatable(kind, id).withOptions(options);
    }

    private static ComponentRegistry registry() {
        ComponentRegistry registry = new ComponentRegistry();
        registry.register(factory(ComponentKind.ATTENTION_PROCESSOR, "split", List.of(TOKENS)), "test");
        registry.register(factory(ComponentKind.ATTENTION_PROCESSOR, "plain", List.of()), "test");
        registry.register(factory(ComponentKind.LATENT_DECODER, "vae", List.of()), "test");
        return registry;
    }

    @Test
    void anOptionIsValidWhenOneComponentOfTheSlotDeclaresIt() {
        assertEquals(List.of(), SlotOptions.check(registry(), ComponentKind.ATTENTION_PROCESSOR,
                List.of("split", "plain"), Map.of("text_tokens", "70")));
        assertEquals(List.of(new SlotOptions.Problem("options.attention.text_tokens",
                "expected an integer in 1..100, got '700'"), new SlotOptions.Problem("options.attention.txt_tokens",
                "unknown option; did you mean text_tokens? (expected an option of attention processor 'split' or "
                        + "attention processor 'plain': text_tokens)")),
                SlotOptions.check(registry(), ComponentKind.ATTENTION_PROCESSOR, List.of("split", "plain"),
                        Map.of("text_tokens", "700", "txt_tokens", "70")));
    }

    @Test
    void aComponentThatDeclaresNothingTakesNothing() {
        assertEquals(List.of(new SlotOptions.Problem("options.decoder.upcast", "unknown option (no options are "
                + "declared by latent decoder 'vae')")), SlotOptions.check(registry(), ComponentKind.LATENT_DECODER,
                        List.of("vae"), Map.of("upcast", "always")));
        assertEquals(List.of(new SlotOptions.Problem("options.decoder.upcast", "no registered component of the slot "
                + "receives options (an instance fills it)")), SlotOptions.check(registry(),
                        ComponentKind.LATENT_DECODER, List.of(), Map.of("upcast", "always")));
    }

    @Test
    void anUnregisteredComponentIsLeftToTheIdCheck() {
        assertEquals(List.of(), SlotOptions.check(registry(), ComponentKind.LATENT_DECODER, List.of("taesd"),
                Map.of("upcast", "always")));
    }

    @Test
    void verifyListsEveryProblemWithItsKey() {
        Map<ComponentKind, Map<String, String>> options = new EnumMap<>(ComponentKind.class);
        options.put(ComponentKind.LATENT_DECODER, Map.of("tiling", "true"));
        options.put(ComponentKind.ATTENTION_PROCESSOR, Map.of("text_tokens", "x"));
        assertEquals("the components' options are not valid:\n"
                + "  - options.attention.text_tokens: expected an integer in 1..100, got 'x'\n"
                + "  - options.decoder.tiling: unknown option (no options are declared by latent decoder 'vae')",
                assertThrows(IllegalArgumentException.class, () -> SlotOptions.verify(registry(), options,
                        kind -> kind == ComponentKind.LATENT_DECODER ? List.of("vae") : List.of("split")))
                        .getMessage());
        SlotOptions.verify(registry(), Map.of(), kind -> List.of());
    }
}
