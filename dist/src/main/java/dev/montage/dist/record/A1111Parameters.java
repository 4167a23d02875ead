package dev.montage.dist.record;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * AUTOMATIC1111's generation parameters text (its "infotext", the {@code parameters} PNG chunk that A1111, Civitai
 * and most image viewers read): the prompt's lines, then {@code Negative prompt: ...} (left out when empty), then one
 * line of {@code Key: value} pairs joined by {@code ", "}, where a value holding a comma, colon or line break is
 * written as a JSON string.
 *
 * @param prompt         the prompt
 * @param negativePrompt the negative prompt, empty for none
 * @param values         the key-value line, in order
 */
public record A1111Parameters(String prompt, String negativePrompt, Map<String, String> values) {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String NEGATIVE = "Negative prompt:";
    /** One pair of the last line, as A1111's own reader matches it. */
    private static final Pattern PAIR = Pattern.compile("\\s*(\\w[\\w \\-/]+):\\s*(\"(?:\\\\.|[^\\\\\"])+\"|[^,]*)(?:,|$)");

    public A1111Parameters {
        values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    /**
     * The parameters of a sampler and schedule type alone, as A1111 names a hires pass's own ({@code Hires sampler},
     * {@code Hires schedule type}): their {@link #scheduler()} and {@link #schedulerOptions()}.
     */
    public static A1111Parameters sampler(String sampler, Optional<String> scheduleType) {
        Map<String, String> values = new LinkedHashMap<>();
        values.put("Sampler", sampler);
        scheduleType.ifPresent(t -> values.put("Schedule type", t));
        return new A1111Parameters("", "", values);
    }

    /**
     * The built-in Montage scheduler of the text's {@code Sampler} and {@code Schedule type}; empty when it names no
     * sampler or one that no built-in scheduler is (see {@link #sampler()}).
     */
    public Optional<String> scheduler() {
        return Optional.ofNullable(values.get("Sampler")).flatMap(s -> Samplers.schedulerOf(s, scheduleType()));
    }

    /**
     * The text's {@code Schedule type}; A1111's Polyexponential at its default ρ of 1 (no {@code Schedule rho}, or 1)
     * is its Exponential, k-diffusion's {@code exp(linspace(1, 0, n)^ρ · (log σ_max − log σ_min) + log σ_min)}.
     */
    private Optional<String> scheduleType() {
        Optional<String> type = Optional.ofNullable(values.get("Schedule type")).map(String::strip);
        String rho = values.get("Schedule rho");
        boolean defaultRho = rho == null || rho.strip().equals("1") || rho.strip().equals("1.0");
        return type.map(t -> t.equals("Polyexponential") && defaultRho ? "Exponential" : t);
    }

    /**
     * The settings of {@link #scheduler()} that the text records: those its sampler's name and schedule type give
     * ({@code solver_type: heun} for "DPM++ 2M SDE Heun", {@code use_exponential_sigmas: true} for the Exponential
     * schedule) and the sampler's η ({@code Eta DDIM}, DPM++ 3M SDE's {@code Eta}); empty when it records none or no
     * built-in scheduler is its sampler.
     *
     * @throws NumberFormatException when the η is no number
     */
    public Map<String, String> schedulerOptions() {
        Optional<String> scheduler = scheduler();
        if (scheduler.isEmpty()) {
            return Map.of();
        }
        Map<String, String> options = new LinkedHashMap<>(Samplers.settingsOf(values.get("Sampler"),
                scheduleType()));
        scheduler.flatMap(id -> Samplers.of(id).etaName()).map(values::get).ifPresent(eta -> options.put(
                GenerationRecord.ETA, Double.toString(Double.parseDouble(eta.strip()))));
        return Collections.unmodifiableMap(options);
    }

    /** The text's sampler as it names it, with its schedule type where it has one; empty when it names none. */
    public Optional<String> sampler() {
        return Optional.ofNullable(values.get("Sampler")).map(s -> s + Optional.ofNullable(values.get(
                "Schedule type")).map(t -> " (Schedule type: " + t + ")").orElse(""));
    }

    /** The text as A1111 writes it. */
    public String text() {
        StringBuilder out = new StringBuilder(prompt);
        if (!negativePrompt.isEmpty()) {
            out.append('\n').append(NEGATIVE).append(' ').append(negativePrompt);
        }
        out.append('\n');
        String separator = "";
        for (Map.Entry<String, String> e : values.entrySet()) {
            out.append(separator).append(e.getKey()).append(": ").append(quote(e.getValue()));
            separator = ", ";
        }
        return out.toString();
    }

    private static String quote(String value) {
        if (value.indexOf(',') < 0 && value.indexOf(':') < 0 && value.indexOf('\n') < 0) {
            return value;
        }
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Reads the text A1111 (or Montage) wrote: the last line is the key-value line when at least three pairs match
     * it, as A1111 decides.
     *
     * @throws IllegalArgumentException when the text has no key-value line
     */
    public static A1111Parameters parse(String text) {
        String[] lines = text.strip().split("\n");
        String last = lines[lines.length - 1];
        Map<String, String> values = new LinkedHashMap<>();
        Matcher m = PAIR.matcher(last);
        while (m.find()) {
            values.put(m.group(1).strip(), unquote(m.group(2)));
        }
        if (values.size() < 3) {
            throw new IllegalArgumentException("the text has no line of generation parameters (Steps: ..., Seed: ...)");
        }
        StringBuilder prompt = new StringBuilder();
        StringBuilder negative = null;
        for (int i = 0; i < lines.length - 1; i++) {
            String line = lines[i];
            if (negative == null && line.startsWith(NEGATIVE)) {
                negative = new StringBuilder(line.substring(NEGATIVE.length()).strip());
            } else {
                StringBuilder into = negative != null ? negative : prompt;
                into.append(into.isEmpty() ? "" : "\n").append(line);
            }
        }
        return new A1111Parameters(prompt.toString(), negative == null ? "" : negative.toString(), values);
    }

    private static String unquote(String value) {
        if (value.length() >= 2 && value.startsWith("\"") && value.endsWith("\"")) {
            try {
                return JSON.readValue(value, String.class);
            } catch (JsonProcessingException e) {
                return value;
            }
        }
        return value.strip();
    }
}
