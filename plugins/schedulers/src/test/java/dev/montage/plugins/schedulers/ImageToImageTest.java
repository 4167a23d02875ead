package dev.montage.plugins.schedulers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.spi.Scheduler;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Runs from a picture (image-to-image), as diffusers' SDXL image-to-image pipeline takes them: of N steps the last
 * ⌊N · strength⌋, from the first evaluation of the first of them, whose level {@link Scheduler.Run#addNoise}
 * noises the picture's latents to; a multistep solver warms up from there.
 */
class ImageToImageTest {
    private static final Shape SHAPE = new Shape(1, 4, 2, 2);

    /**
     * Every built-in scheduler from a picture, as diffusers 0.23.1 runs it (values of its own scheduler code through
     * its pipeline's {@code get_timesteps} and {@code add_noise}, given the same step noise and Brownian path).
     */
    @Test
    void everySchedulerRunsFromAPictureAsDiffusersRunsIt() {
        assertRunFromAPictureMatchesDiffusers("euler", 10, 0.6, 4,
                new float[] {0.3453184962272644f, 0.1314365267753601f, -0.7424405217170715f, -1.5851871967315674f,
                    -1.8217521905899048f, -1.398846983909607f, -0.7661359310150146f, -0.474977970123291f,
                    -0.7270547151565552f, -1.2305177450180054f, -1.4683948755264282f, -1.1537681818008423f,
                    -0.4971839487552643f, -0.060275882482528687f, -0.30028119683265686f, -1.164474368095398f});
        assertRunFromAPictureMatchesDiffusers("euler karras", 8, 0.5, 4,
                new float[] {0.4217304289340973f, 0.6093555092811584f, 0.2867693305015564f, -0.2656974196434021f,
                    -0.7061684727668762f, -0.8540992736816406f, -0.7550482153892517f, -0.5721191167831421f,
                    -0.4210725724697113f, -0.29338544607162476f, -0.12047098577022552f, 0.09671162813901901f,
                    0.22728949785232544f, 0.09376882016658783f, -0.3566391170024872f, -0.9397179484367371f});
        assertRunFromAPictureMatchesDiffusers("euler ancestral", 10, 0.45, 6,
                new float[] {-1.1811332702636719f, -0.3278387784957886f, 0.013368457555770874f, -1.026531457901001f,
                    -2.427096366882324f, -2.4515185356140137f, -1.0705573558807373f, -0.1219756007194519f,
                    -0.8264999389648438f, -2.1098105907440186f, -2.1135637760162354f, -0.7739461660385132f,
                    0.14094746112823486f, -0.4999363124370575f, -1.7526955604553223f, -2.103790283203125f});
        assertRunFromAPictureMatchesDiffusers("heun", 6, 0.5, 6,
                new float[] {0.23109832406044006f, 0.2741023600101471f, -0.2416476011276245f, -0.8922572135925293f,
                    -1.2560642957687378f, -1.1994903087615967f, -0.9114652276039124f, -0.6917294263839722f,
                    -0.6855379343032837f, -0.7836291790008545f, -0.7585023641586304f, -0.5086700320243835f,
                    -0.19213587045669556f, -0.12143073976039886f, -0.49277031421661377f, -1.1704455614089966f});
        assertRunFromAPictureMatchesDiffusers("dpm2", 6, 0.7, 4,
                new float[] {0.34824129939079285f, 0.28346914052963257f, -0.37372076511383057f, -1.0944904088974f,
                    -1.399670958518982f, -1.1912075281143188f, -0.7638617157936096f, -0.517707109451294f,
                    -0.6193048357963562f, -0.8849292397499084f, -0.9698561429977417f, -0.6968293190002441f,
                    -0.24334390461444855f, -0.02101931720972061f, -0.3319104015827179f, -1.0769882202148438f});
        assertRunFromAPictureMatchesDiffusers("dpm2 ancestral", 6, 0.5, 6,
                new float[] {-0.36031919717788696f, 0.0931381806731224f, -0.06768614053726196f, -0.9130766987800598f,
                    -1.694694995880127f, -1.635815143585205f, -0.9205003976821899f, -0.4839731752872467f,
                    -0.8028243780136108f, -1.300803780555725f, -1.1710890531539917f, -0.4761664867401123f,
                    -0.04226984456181526f, -0.3656209707260132f, -1.0579404830932617f, -1.481536626815796f});
        assertRunFromAPictureMatchesDiffusers("lms", 12, 0.5, 6,
                new float[] {-0.017696484923362732f, -0.08901256322860718f, -0.7426033020019531f, -1.453178882598877f,
                    -1.7475491762161255f, -1.532359004020691f, -1.1038728952407837f, -0.8610191345214844f,
                    -0.9683773517608643f, -1.2406609058380127f, -1.3318697214126587f, -1.0629534721374512f,
                    -0.6090582013130188f, -0.3803222179412842f, -0.6801474094390869f, -1.4143106937408447f});
        assertRunFromAPictureMatchesDiffusers("ddim", 10, 0.6, 4,
                new float[] {0.37774789333343506f, 0.16206446290016174f, -0.7191738486289978f, -1.5690191984176636f,
                    -1.8075768947601318f, -1.381109595298767f, -0.7430688142776489f, -0.4494583308696747f,
                    -0.7036584615707397f, -1.2113624811172485f, -1.4512431621551514f, -1.133966326713562f,
                    -0.47185131907463074f, -0.031262852251529694f, -0.27328991889953613f, -1.1447625160217285f});
        assertRunFromAPictureMatchesDiffusers("ddim eta", 10, 0.6, 4,
                new float[] {-0.3853602707386017f, -0.49013152718544006f, -0.4797447621822357f, -0.9382882714271545f,
                    -1.8309136629104614f, -2.133129119873047f, -1.2381305694580078f, -0.09442929178476334f,
                    -0.16040822863578796f, -1.414192795753479f, -2.2320103645324707f, -1.4752141237258911f,
                    -0.01073016133159399f, 0.40248462557792664f, -0.6643767356872559f, -1.9369763135910034f});
        assertRunFromAPictureMatchesDiffusers("dpmpp 2m", 10, 0.6, 4,
                new float[] {0.2697586715221405f, -0.018250679597258568f, -0.9946095943450928f, -1.8917797803878784f,
                    -2.091115951538086f, -1.5626775026321411f, -0.8310196399688721f, -0.519598126411438f,
                    -0.8461459279060364f, -1.4663361310958862f, -1.780077576637268f, -1.447143316268921f,
                    -0.6929914951324463f, -0.15060819685459137f, -0.35219353437423706f, -1.2691500186920166f});
        assertRunFromAPictureMatchesDiffusers("dpmpp 3m", 20, 0.5, 10,
                new float[] {-0.7065161466598511f, -0.9202812910079956f, -1.798529028892517f, -2.6465659141540527f,
                    -2.8858838081359863f, -2.4622139930725098f, -1.826939582824707f, -1.533988356590271f,
                    -1.7862401008605957f, -2.2908246517181396f, -2.5287327766418457f, -2.2120840549468994f,
                    -1.5527111291885376f, -1.1149308681488037f, -1.3577467203140259f, -2.227435827255249f});
        assertRunFromAPictureMatchesDiffusers("dpmpp 2m karras", 10, 0.6, 4,
                new float[] {0.4641772508621216f, 0.21037361025810242f, -0.7176026105880737f, -1.5883628129959106f,
                    -1.8042280673980713f, -1.3247106075286865f, -0.6393678188323975f, -0.33773666620254517f,
                    -0.629849910736084f, -1.1958614587783813f, -1.474560260772705f, -1.1505688428878784f,
                    -0.4421482980251312f, 0.05131363496184349f, -0.16733713448047638f, -1.0585999488830566f});
        assertRunFromAPictureMatchesDiffusers("dpmpp 2m sde", 10, 0.6, 4,
                new float[] {-2.539257764816284f, -2.0503597259521484f, -0.42971494793891907f, -0.533994734287262f,
                    -2.716783285140991f, -3.971043586730957f, -2.2776105403900146f, 0.20900623500347137f,
                    0.01949327439069748f, -2.666088819503784f, -4.137881278991699f, -2.326610803604126f,
                    0.3051093816757202f, 0.24522413313388824f, -2.2275590896606445f, -3.6847357749938965f});
        assertRunFromAPictureMatchesDiffusers("unipc", 10, 0.6, 4,
                new float[] {0.26587170362472534f, -0.021871063858270645f, -0.9973268508911133f, -1.8936669826507568f,
                    -2.0928187370300293f, -1.5648692846298218f, -0.8338881731033325f, -0.5227547883987427f,
                    -0.8490003943443298f, -1.4686167240142822f, -1.782068133354187f, -1.4494415521621704f,
                    -0.6959876418113708f, -0.15410619974136353f, -0.3555049002170563f, -1.2716127634048462f});
        assertRunFromAPictureMatchesDiffusers("unipc 3", 12, 0.75, 3,
                new float[] {0.2142169177532196f, -0.42489972710609436f, -1.9142889976501465f, -3.101996898651123f,
                    -3.141430377960205f, -2.107473850250244f, -0.8905634880065918f, -0.472046434879303f,
                    -1.1531058549880981f, -2.334139347076416f, -3.0081238746643066f, -2.5759663581848145f,
                    -1.3417645692825317f, -0.29346153140068054f, -0.3298310339450836f, -1.530713677406311f});
        assertRunFromAPictureMatchesDiffusers("lcm", 6, 0.5, 3,
                new float[] {-0.40570783615112305f, -1.5518743991851807f, -1.5464905500411987f, -0.8500045537948608f,
                    -0.9745963215827942f, -1.941285490989685f, -2.184624671936035f, -1.0513207912445068f,
                    -0.033569224178791046f, -0.6969103813171387f, -2.258333683013916f, -2.49371337890625f,
                    -0.8720945715904236f, 0.5452241897583008f, -0.1595153659582138f, -2.161184787750244f});
        assertRunFromAPictureMatchesDiffusers("dpmpp sde", 6, 0.5, 6,
                new float[] {-0.36429718136787415f, 0.2628946900367737f, 0.48879116773605347f, -0.1275792270898819f,
                    -1.0839697122573853f, -1.440108060836792f, -0.9921242594718933f, -0.48083436489105225f,
                    -0.5265231132507324f, -0.7960436344146729f, -0.5752296447753906f, 0.10072065889835358f,
                    0.4044860899448395f, -0.16273856163024902f, -1.0747976303100586f, -1.4673773050308228f});
    }

    /**
     * Inpainting as diffusers' SDXL inpaint pipeline runs a UNet of four input channels: after each step, outside the
     * mask the picture's latents noised to the next evaluation's level ({@link Scheduler.Run#addNoise} at every index,
     * the second evaluations of two-evaluation samplers included), the clean latents after the last; at strength 1
     * from pure noise (values of diffusers 0.23.1's schedulers through that loop).
     */
    @Test
    void inpaintingNoisesThePictureToEveryEvaluationsLevelAsDiffusersDoes() {
        assertInpaintingMatchesDiffusers("euler", 8, 0.6, 4,
                new float[] {0.29552021622657776f, 0.41472333669662476f, -0.1825222373008728f, 0.6754631996154785f,
                    -1.2113345861434937f, -1.0712075233459473f, -0.9775301218032837f, -0.4687199294567108f,
                    -0.5214530229568481f, 0.311541348695755f, -0.7468727827072144f, -0.48235902190208435f,
                    0.6629692316055298f, 0.06585028022527695f, -0.27537643909454346f, -0.9809362292289734f});
        assertInpaintingMatchesDiffusers("heun", 6, 1.0, 0,
                new float[] {0.29552021622657776f, -0.23946160078048706f, -2.666410446166992f, 0.6754631996154785f,
                    -3.7123188972473145f, -1.5397557020187378f, -0.9775301218032837f, 1.219905138015747f,
                    -0.2814539968967438f, 0.311541348695755f, -4.225409507751465f, -3.683300018310547f,
                    0.6629692316055298f, 0.688281238079071f, 1.2094266414642334f, -0.9809362292289734f});
        assertInpaintingMatchesDiffusers("dpm2", 6, 0.7, 4,
                new float[] {0.29552021622657776f, 0.28346914052963257f, -0.37372076511383057f, 0.6754631996154785f,
                    -1.399670958518982f, -1.1912075281143188f, -0.9775301218032837f, -0.517707109451294f,
                    -0.6193048357963562f, 0.311541348695755f, -0.9698561429977417f, -0.6968293190002441f,
                    0.6629692316055298f, -0.02101931720972061f, -0.3319104015827179f, -0.9809362292289734f});
        assertInpaintingMatchesDiffusers("dpmpp sde", 5, 0.8, 2,
                new float[] {0.29552021622657776f, -1.5525827407836914f, -1.8597246408462524f, 0.6754631996154785f,
                    -0.5498788952827454f, -1.5945415496826172f, -0.9775301218032837f, -1.1169105768203735f,
                    0.28080615401268005f, 0.311541348695755f, -2.140083074569702f, -2.8173820972442627f,
                    0.6629692316055298f, 1.0018107891082764f, 0.5480020046234131f, -0.9809362292289734f});
        assertInpaintingMatchesDiffusers("lms", 8, 1.0, 0,
                new float[] {0.29552021622657776f, 0.18568074703216553f, -2.819960594177246f, 0.6754631996154785f,
                    -4.115260124206543f, -1.424660563468933f, -0.9775301218032837f, 1.9930251836776733f,
                    0.13367539644241333f, 0.311541348695755f, -4.750694274902344f, -4.079320907592773f,
                    0.6629692316055298f, 1.3346387147903442f, 1.980048418045044f, -0.9809362292289734f});
        assertInpaintingMatchesDiffusers("ddim", 8, 0.6, 4,
                new float[] {0.29552021622657776f, 0.4418333172798157f, -0.16044311225414276f, 0.6754631996154785f,
                    -1.197921633720398f, -1.0566143989562988f, -0.9775301218032837f, -0.4490516185760498f,
                    -0.5022289752960205f, 0.311541348695755f, -0.7295475006103516f, -0.4628055989742279f,
                    0.6629692316055298f, 0.0900215432047844f, -0.2540796399116516f, -0.9809362292289734f});
        assertInpaintingMatchesDiffusers("dpmpp 2m karras", 10, 0.6, 4,
                new float[] {0.29552021622657776f, 0.21037361025810242f, -0.7176026105880737f, 0.6754631996154785f,
                    -1.8042280673980713f, -1.3247106075286865f, -0.9775301218032837f, -0.33773666620254517f,
                    -0.629849910736084f, 0.311541348695755f, -1.474560260772705f, -1.1505688428878784f,
                    0.6629692316055298f, 0.05131363496184349f, -0.16733713448047638f, -0.9809362292289734f});
        assertInpaintingMatchesDiffusers("unipc", 10, 1.0, 0,
                new float[] {0.29552021622657776f, -0.3094031512737274f, -3.4924919605255127f, 0.6754631996154785f,
                    -4.864263534545898f, -2.0148160457611084f, -0.9775301218032837f, 1.6046440601348877f,
                    -0.3644788861274719f, 0.311541348695755f, -5.5372138023376465f, -4.826204299926758f,
                    0.6629692316055298f, 0.9073876142501831f, 1.5908994674682617f, -0.9809362292289734f});
        assertInpaintingMatchesDiffusers("lcm", 6, 0.5, 3,
                new float[] {0.29552021622657776f, -1.5518743991851807f, -1.5464905500411987f, 0.6754631996154785f,
                    -0.9745963215827942f, -1.941285490989685f, -0.9775301218032837f, -1.0513207912445068f,
                    -0.033569224178791046f, 0.311541348695755f, -2.258333683013916f, -2.49371337890625f,
                    0.6629692316055298f, 0.5452241897583008f, -0.1595153659582138f, -0.9809362292289734f});
    }

    private static Scheduler scheduler(String label) {
        return switch (label) {
            case "euler" -> new EulerDiscreteScheduler(settings(Map.of()));
            case "euler karras" -> new EulerDiscreteScheduler(settings(Map.of("use_karras_sigmas", true)));
            case "euler ancestral" -> EulerDiscreteScheduler.ancestral(settings(Map.of("timestep_spacing",
                    "trailing")));
            case "heun" -> new HeunDiscreteScheduler(settings(Map.of()));
            case "dpm2" -> new KDpm2DiscreteScheduler(settings(Map.of("use_karras_sigmas", true)));
            case "dpm2 ancestral" -> KDpm2DiscreteScheduler.ancestral(settings(Map.of()));
            case "lms" -> new LmsDiscreteScheduler(settings(Map.of()));
            case "ddim" -> new DdimScheduler(settings(Map.of()));
            case "ddim eta" -> new DdimScheduler(settings(Map.of("eta", 0.5)));
            case "dpmpp 2m" -> new DpmSolverMultistepScheduler(settings(Map.of()));
            case "dpmpp 3m" -> new DpmSolverMultistepScheduler(settings(Map.of("solver_order", 3,
                    "timestep_spacing", "linspace")));
            case "dpmpp 2m karras" -> new DpmSolverMultistepScheduler(settings(Map.of("use_karras_sigmas", true)));
            case "dpmpp 2m sde" -> new DpmSolverMultistepScheduler(settings(Map.of("algorithm_type",
                    "sde-dpmsolver++")));
            case "unipc" -> new UniPcScheduler(settings(Map.of()));
            case "unipc 3" -> new UniPcScheduler(settings(Map.of("solver_order", 3)));
            case "lcm" -> new LcmScheduler(settings(Map.of()));
            case "dpmpp sde" -> new DpmSolverSdeScheduler(settings(Map.of("use_karras_sigmas", true)));
            default -> throw new IllegalArgumentException(label);
        };
    }

    private static SchedulerSettings settings(Map<String, Object> overrides) {
        return SdxlSchedulerConfig.settings(overrides);
    }

    /**
     * @param begin the first evaluation diffusers runs: its {@code t_start * scheduler.order}
     */
    private static void assertRunFromAPictureMatchesDiffusers(String label, int steps, double strength, int begin,
            float[] expected) {
        Scheduler.Run run = started(label, steps, strength, begin);
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray original = m.create(sineOf(0.7, 0.3), SHAPE);
            NDArray x = run.addNoise(original, m.create(wave(0.9, 0.2, SHAPE), SHAPE), begin);
            assertEquals(m, x.getManager(), label + ": the noised latents belong to the picture's manager");
            for (int i = begin; i < run.timesteps().length; i++) {
                NDArray output = run.scaleModelInput(x, i).mul(0.3f).add((float) (0.1 * (i + 1)));
                x = run.step(output, i, x);
            }
            double error = GoldenTensors.maxAbsDiff(expected, x.toFloatArray());
            System.out.printf("%s from a picture at strength %s vs diffusers 0.23.1: max-abs error %.3g%n", label,
                    strength, error);
            assertTrue(error <= 2e-5, label + ": " + error);
        }
    }

    /** The latents blended with the noised picture's after each evaluation, where the mask (every third cell) is 0. */
    private static void assertInpaintingMatchesDiffusers(String label, int steps, double strength, int begin,
            float[] expected) {
        Scheduler.Run run = started(label, steps, strength, begin);
        float[] keep = new float[16];
        for (int k = 0; k < keep.length; k++) {
            keep[k] = k % 3 == 0 ? 1f : 0f;
        }
        try (NDManager m = TestEngine.manager().newSubManager()) {
            NDArray original = m.create(sineOf(0.7, 0.3), SHAPE);
            NDArray noise = m.create(wave(0.9, 0.2, SHAPE), SHAPE);
            NDArray kept = m.create(keep, SHAPE);
            NDArray x = strength == 1 ? noise.mul(run.initNoiseSigma()) : run.addNoise(original, noise, begin);
            int last = run.timesteps().length - 1;
            for (int i = begin; i <= last; i++) {
                NDArray output = run.scaleModelInput(x, i).mul(0.3f).add((float) (0.1 * (i + 1)));
                x = run.step(output, i, x);
                NDArray proper = i < last ? run.addNoise(original, noise, i + 1) : original;
                x = proper.mul(kept).add(kept.neg().add(1f).mul(x));
            }
            double error = GoldenTensors.maxAbsDiff(expected, x.toFloatArray());
            System.out.printf("%s inpainting at strength %s vs diffusers 0.23.1: max-abs error %.3g%n", label,
                    strength, error);
            assertTrue(error <= 2e-5, label + ": " + error);
        }
    }

    /** A run of the scheduler, checked to begin a picture's run at {@code begin} of diffusers. */
    private static Scheduler.Run started(String label, int steps, double strength, int begin) {
        Scheduler.Run run = scheduler(label).start(steps, TestEngine.manager(), (m, shape, index) ->
                m.create(wave(1.3, 0.5 * index, shape), shape));
        int skipped = steps - Math.min((int) (steps * strength), steps);
        assertEquals(begin, run.firstEvaluationOf(skipped), label);
        return run;
    }

    private static float[] wave(double frequency, double phase, Shape shape) {
        float[] v = new float[(int) shape.size()];
        for (int k = 0; k < v.length; k++) {
            v[k] = (float) Math.cos(frequency * k + phase);
        }
        return v;
    }

    private static float[] sineOf(double frequency, double phase) {
        float[] v = new float[16];
        for (int k = 0; k < v.length; k++) {
            v[k] = (float) Math.sin(frequency * k + phase);
        }
        return v;
    }
}
