package dev.montage.api.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class OptionsTest {
    private enum Upcast { AUTO, ALWAYS, NEVER }

    private static final OptionSpec<Integer> TOKENS = OptionSpec.integer("text_tokens", 1, 1024, "text tokens")
            .withDefault(77);
    private static final OptionSpec<Double> LOW = OptionSpec.number("low", 0, 65535, "lower threshold")
            .withDefault(100.0);
    private static final OptionSpec<Double> CLIPPED = OptionSpec.number("lambda_min_clipped",
            Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY, "clipping");
    private static final OptionSpec<Boolean> SLICING = OptionSpec.bool("slicing", "one image at a time")
            .withDefault(false);
    private static final OptionSpec<Upcast> UPCAST = OptionSpec.choice("upcast", Upcast.class, "float32 policy")
            .withDefault(Upcast.AUTO);
    private static final OptionSpec<String> SPACING = OptionSpec.choice("timestep_spacing",
            List.of("linspace", "leading", "trailing"), "spacing");
    private static final OptionSpec<String> COLOUR = OptionSpec.string("pad", "#?[0-9a-fA-F]{6}",
            "a colour as #rrggbb", "pad colour");
    private static final List<OptionSpec<?>> DECLARED = List.of(TOKENS, LOW, CLIPPED, SLICING, UPCAST, SPACING,
            COLOUR);

    @Test
    void valuesAreTypedAndDefaultsApply() {
        Options o = Options.of("options.x", Map.of("text_tokens", " 70", "low", "50.5", "slicing", "TRUE",
                "upcast", "Always", "timestep_spacing", "trailing", "lambda_min_clipped", "-inf", "pad", "#00ff00"));
        assertEquals(70, o.get(TOKENS));
        assertEquals(50.5, o.get(LOW));
        assertTrue(o.get(SLICING));
        assertEquals(Upcast.ALWAYS, o.get(UPCAST));
        assertEquals("trailing", o.get(SPACING));
        assertEquals(Double.NEGATIVE_INFINITY, o.get(CLIPPED));
        assertEquals("#00ff00", o.get(COLOUR));

        assertEquals(77, Options.NONE.get(TOKENS));
        assertEquals(100.0, Options.NONE.get(LOW));
        assertFalse(Options.NONE.get(SLICING));
        assertEquals(Upcast.AUTO, Options.NONE.get(UPCAST));
        assertEquals(Optional.empty(), Options.NONE.find(SPACING), "no default: absent");
    }

    @Test
    void aGetterNamesTheOptionWhatItTakesAndTheValue() {
        Options o = Options.of("options.decoder", Map.of("upcast", "half", "text_tokens", "0", "low", "x"));
        assertEquals("options.decoder.upcast: expected one of auto, always, never, got 'half'",
                assertThrows(IllegalArgumentException.class, () -> o.get(UPCAST)).getMessage());
        assertEquals("options.decoder.text_tokens: expected an integer in 1..1024, got '0'",
                assertThrows(IllegalArgumentException.class, () -> o.get(TOKENS)).getMessage());
        assertEquals("options.decoder.low: expected a number in 0..65535, got 'x'",
                assertThrows(IllegalArgumentException.class, () -> o.get(LOW)).getMessage());
        assertEquals("options.decoder.timestep_spacing: not set and without default; expected one of linspace, "
                + "leading, trailing (spacing)", assertThrows(IllegalArgumentException.class, () -> o.get(SPACING))
                .getMessage());
    }

    @Test
    void checkNamesUnknownOptionsWithTheLikelyOneAndRefusedValues() {
        List<Options.Problem> problems = Options.check(DECLARED, Map.of("text_tokns", "77", "slicing", "yes",
                "low", "70000", "pad", "white", "lambda_min_clipped", "nan", "upcast", "never"), "decoder 'vae'");
        assertEquals(List.of(
                new Options.Problem("lambda_min_clipped", "expected a number, got 'nan'"),
                new Options.Problem("low", "expected a number in 0..65535, got '70000'"),
                new Options.Problem("pad", "expected a colour as #rrggbb, got 'white'"),
                new Options.Problem("slicing", "expected true or false, got 'yes'"),
                new Options.Problem("text_tokns", "unknown option; did you mean text_tokens? (expected an option of "
                        + "decoder 'vae': text_tokens, low, lambda_min_clipped, slicing, upcast, timestep_spacing, "
                        + "pad)")), problems);
        assertEquals(List.of(new Options.Problem("upcast", "unknown option (no options are declared by processor "
                + "'default')")),
                Options.check(List.of(), Map.of("upcast", "always"), "processor 'default'"));
        assertEquals(List.of(), Options.check(DECLARED, Map.of(), "x"));
    }

    @Test
    void aValueIsCheckedAgainstEveryDeclarationOfItsName() {
        OptionSpec<Integer> narrow = OptionSpec.integer("text_tokens", 1, 100, "narrow");
        assertEquals(List.of(new Options.Problem("text_tokens", "expected an integer in 1..100, got '200'")),
                Options.check(List.of(TOKENS, narrow), Map.of("text_tokens", "200"), "the processors"));
    }

    @Test
    void describeListsNameTypeRangeDefaultAndDoc() {
        assertEquals("text_tokens (integer 1..1024, default 77): text tokens", TOKENS.describe());
        assertEquals("low (number 0..65535, default 100): lower threshold", LOW.describe());
        assertEquals("lambda_min_clipped (number): clipping", CLIPPED.describe());
        assertEquals("slicing (boolean, default false): one image at a time", SLICING.describe());
        assertEquals("upcast (enum auto|always|never, default auto): float32 policy", UPCAST.describe());
        assertEquals("pad (string a colour as #rrggbb): pad colour", COLOUR.describe());
        assertEquals(Optional.of("1..1024"), TOKENS.range());
        assertEquals(OptionSpec.Type.ENUM, UPCAST.type());
    }

    @Test
    void declarationsAreCheckedWhenMade() {
        assertEquals("expected an integer in 1..1024, got '0'", assertThrows(IllegalArgumentException.class,
                () -> TOKENS.withDefault(0)).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> OptionSpec.bool("Bad-Name", "x")).getMessage()
                .contains("'Bad-Name'"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> OptionSpec.integer("n", 2, 1, "x"))
                .getMessage().contains("empty range 2..1"));
    }

    @Test
    void anEmptyChoiceSaysNoneIsInstalled() {
        OptionSpec<String> estimator = OptionSpec.choice("estimator", List.of(), "depth estimator");
        assertEquals("expected one of the installed choices (there is none), got 'dpt'",
                assertThrows(IllegalArgumentException.class, () -> estimator.parse("dpt")).getMessage());
    }

    @Test
    void preprocessorsTakePicturesOnlyAndNoOptionsByDefault() {
        ConditionPreprocessor p = new ConditionPreprocessor() {
            @Override
            public String type() {
                return "edges";
            }

            @Override
            public BufferedImage preprocess(BufferedImage input, Options options, int width, int height) {
                return input;
            }
        };
        assertEquals(List.of(), p.options());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> p.preprocessData(new byte[0], "pose.json", Options.NONE, 8, 8));
        assertEquals("control type 'edges' takes a picture, not a data file (pose.json)", e.getMessage());
    }
}
