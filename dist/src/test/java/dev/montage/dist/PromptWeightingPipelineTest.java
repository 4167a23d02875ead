package dev.montage.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.FieldError;
import dev.montage.api.GenerationRequest;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.Latents;
import dev.montage.api.ProgressListener;
import dev.montage.dist.server.PictureReferences;
import dev.montage.dist.server.RequestJson;
import dev.montage.dist.server.ServerSettings;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.testing.TestEngine;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A pipeline whose text encoder reads A1111 emphasis: a prompt it cannot read is refused before anything runs (a
 * generation, a server or batch request), naming the field; an emphasised prompt runs and its weights act.
 */
class PromptWeightingPipelineTest {
    private static MontagePipeline pipeline;

    @BeforeAll
    static void build() {
        pipeline = TestEngine.pipeline(TinyModel.registry(), TinyModel.folder())
                .setting("options.text_encoder.prompt_weighting", "a1111").build();
    }

    @AfterAll
    static void close() {
        if (pipeline != null) {
            pipeline.close();
        }
    }

    private static GenerationRequest request(String prompt, String negative) {
        return GenerationRequest.builder(prompt).negativePrompt(negative).size(32, 32).steps(2).seed(4).build();
    }

    @Test
    void whatTheEncoderCannotReadIsRefusedBeforeAnythingRuns() throws Exception {
        GenerationRequest refused = request("a castle BREAK a moat", "[blurry:sharp:0.5]");
        List<FieldError> problems = pipeline.requestProblems(refused);
        assertEquals(List.of("prompt", "negativePrompt"), problems.stream().map(FieldError::field).toList());
        assertTrue(problems.get(1).message().contains("prompt editing"), problems.get(1).message());
        List<String> stages = new ArrayList<>();
        ProgressListener listener = new ProgressListener() {
            @Override
            public boolean onStep(int step, int total, Duration elapsed) {
                return true;
            }

            @Override
            public void onStage(String stage) {
                stages.add(stage);
            }
        };
        InvalidRequestException generation = assertThrows(InvalidRequestException.class,
                () -> pipeline.generate(refused, listener));
        assertEquals(problems, generation.errors());
        assertEquals(List.of(), stages, "nothing ran");
        RequestJson requests = RequestJson.forPipeline(pipeline, ServerSettings.builder().build(),
                new PictureReferences() {
                    @Override
                    public String field() {
                        return "file";
                    }

                    @Override
                    public Optional<Found> find(String name) {
                        return Optional.empty();
                    }

                    @Override
                    public String unknown(String name) {
                        return "no pictures here";
                    }
                });
        InvalidRequestException parsed = assertThrows(InvalidRequestException.class, () -> requests.parse(
                new ObjectMapper().readTree("{\"prompt\": \"a castle BREAK a moat\"}")));
        assertEquals("prompt", parsed.errors().get(0).field());
        assertEquals(List.of(), TinyModel.pipeline().requestProblems(refused), "brackets are text without it");
    }

    @Test
    void emphasisWeighsTheWords() {
        Latents[] plain = new Latents[1];
        Latents[] emphasised = new Latents[1];
        pipeline.generate(request("a castle on a hill", ""), ProgressListener.NONE, plain);
        pipeline.generate(request("a (castle:1.6) on a [hill]", ""), ProgressListener.NONE, emphasised);
        assertFalse(Arrays.equals(plain[0].values(), emphasised[0].values()));
    }
}
