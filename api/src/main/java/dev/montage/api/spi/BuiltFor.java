package dev.montage.api.spi;

import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The API range a plugin was compiled against. A plugin puts {@code @BuiltFor(MontageApi.COMPATIBLE_RANGE)} on its
 * package ({@code package-info.java}) or on each factory class: the compiler copies the constant's value into the
 * plugin's own class file, so the host learns the API the plugin was built with, not the one it runs with, and
 * refuses a plugin built for another API line ({@link ComponentFactory#apiVersionRange()}).
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.PACKAGE})
@Inherited
public @interface BuiltFor {

    /** An OSGi/Maven version range of {@link dev.montage.api.MontageApi#VERSION}, e.g. {@code "[0.2,0.3)"}. */
    String value();
}
