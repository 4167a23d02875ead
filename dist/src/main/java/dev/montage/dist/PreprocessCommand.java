package dev.montage.dist;

import dev.montage.api.Control;
import dev.montage.api.ControlData;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.runtime.output.PngFiles;
import dev.montage.runtime.pipeline.ControlImages;
import dev.montage.runtime.pipeline.ControlNets;
import dev.montage.runtime.registry.InstalledPlugins;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code montage preprocess}: runs one condition preprocessor alone and writes the control image it makes (like
 * A1111's detect endpoint), so a user can check it before generating.
 */
@Command(name = "preprocess", mixinStandardHelpOptions = true,
        description = "Make the control image of a condition (canny edges, pose skeleton, normalised depth) and "
                + "write it as a PNG.")
final class PreprocessCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    PluginOptions plugins;

    @Parameters(index = "0", paramLabel = "TYPE", description = "The condition: canny, pose, depth (or another "
            + "installed preprocessor).")
    String type;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    /** Exactly one input: a picture or a data file. */
    static final class Input {
        @Option(names = "--image", description = "The picture to preprocess (photo, depth map, rendered pose).")
        Path image;

        @Option(names = "--keypoints", description = "OpenPose JSON keypoints (pose).")
        Path keypoints;
    }

    @Option(names = {"-O", "--option"}, paramLabel = "KEY=VALUE",
            description = "A preprocessor option, e.g. low=50, input=gray, stick_width=auto, invert=true; or "
                    + "preprocess=none: the picture as it is, only converted to RGB and resized (repeatable).")
    List<String> options = new ArrayList<>();

    @Option(names = "--width", description = "Output width in pixels (default: the picture's; required with "
            + "--keypoints).")
    Integer width;

    @Option(names = "--height", description = "Output height in pixels (default: the picture's; required with "
            + "--keypoints).")
    Integer height;

    @Option(names = {"-o", "--out"}, required = true, description = "The PNG to write.")
    Path out;

    @Option(names = "--model-path", paramLabel = "KEY=PATH", description = "A model a preprocessor loads, e.g. a "
            + "depth estimator's folder (repeatable).")
    List<String> modelPaths = new ArrayList<>();

    @Option(names = "--device", description = "Device for preprocessors that run a model: cpu, cuda, cuda:N or "
            + "auto (default ${DEFAULT-VALUE}).")
    String device = "auto";

    @Override
    public Integer call() throws IOException {
        Map<String, String> parsedOptions = keyValues("--option", options);
        Path source = input.image != null ? input.image : input.keypoints;
        if (input.keypoints != null && (width == null || height == null)) {
            throw new IllegalArgumentException("--width and --height are required with --keypoints");
        }
        BufferedImage picture = input.image != null ? SubjectSpec.readImage(input.image) : null;
        int w = width != null ? width : picture.getWidth();
        int h = height != null ? height : picture.getHeight();
        if (w <= 0 || h <= 0) {
            throw new IllegalArgumentException("--width and --height must be positive, got " + w + "x" + h);
        }
        BufferedImage control;
        // a preprocessor runs plugin code: the plugins stay loaded until its picture is made
        try (InstalledPlugins installed = plugins.load();
                LazyEngineContext context = new LazyEngineContext(device, keyValues("--model-path", modelPaths))) {
            PluginOptions.warn(installed, spec.commandLine().getErr());
            ConditionPreprocessor preprocessor = installed.registry()
                    .factory(ComponentKind.CONDITION_PREPROCESSOR, type, ConditionPreprocessor.class).create(context);
            Control given = checkedControl(preprocessor, picture, parsedOptions);
            control = ControlImages.conditioningImage(input.image != null ? "--image" : "--keypoints", given,
                    preprocessor, w, h).toBufferedImage();
        }
        Map<String, String> parameters = new LinkedHashMap<>();
        parameters.put("control", type);
        parameters.put("source", source.getFileName().toString());
        parsedOptions.forEach(parameters::put);
        PngFiles.write(out, control, parameters);
        spec.commandLine().getOut().println(out);
        return 0;
    }

    /**
     * The control the options describe, its options checked against what the preprocessor declares.
     *
     * @throws IllegalArgumentException naming each option the preprocessor does not take
     */
    private Control checkedControl(ConditionPreprocessor preprocessor, BufferedImage picture,
            Map<String, String> options) {
        Control control = Control.fromRequestOptions(type, picture, input.keypoints == null ? null
                : new ControlData(ControlSpec.readKeypoints(input.keypoints), input.keypoints.toString()), 1, 0, 1,
                options);
        List<String> problems = new ArrayList<>();
        control.context().ifPresent(c -> problems.add("--option." + Control.CONTEXT_OPTION + ": a ControlNet's "
                + "setting, and montage preprocess runs none"));
        ControlNets.optionProblems(control, preprocessor, "--option")
                .forEach(p -> problems.add(p.field() + ": " + p.message()));
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(String.join("; ", problems));
        }
        return control;
    }

    /** {@code KEY=VALUE} arguments of a repeatable option, in order. */
    private static Map<String, String> keyValues(String option, List<String> args) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException(option + " expects KEY=VALUE, got '" + arg + "'");
            }
            if (out.put(arg.substring(0, eq).trim(), arg.substring(eq + 1).trim()) != null) {
                throw new IllegalArgumentException(option + " '" + arg.substring(0, eq).trim() + "' is given twice");
            }
        }
        return out;
    }
}
