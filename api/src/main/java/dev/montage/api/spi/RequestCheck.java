package dev.montage.api.spi;

import dev.montage.api.FieldError;
import dev.montage.api.GenerationRequest;
import java.util.List;

/**
 * Implemented by a component factory whose component refuses some requests for what its options make of them (a text
 * encoder's reading of the prompt's syntax). The host asks before a generation runs, and a server before it queues a
 * request, so that a refusal names the request's field at once rather than failing the generation midway; the
 * component itself may still refuse what it is given.
 */
public interface RequestCheck {

    /**
     * What the component, with these options, would refuse in the request.
     *
     * @param options the options of the component's slot, as its {@code ComponentContext} has them
     * @return one error per refused field, under the request's field names ({@code prompt}, ...); empty when none
     */
    List<FieldError> problems(GenerationRequest request, Options options);
}
