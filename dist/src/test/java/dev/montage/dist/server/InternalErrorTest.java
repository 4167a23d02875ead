package dev.montage.dist.server;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.mockito.ArgumentMatchers.anyInt;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import io.javalin.http.Context;
import io.javalin.http.HandlerType;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The server's answer to an unexpected exception, on Javalin's request context (mocked: the recycled request of an
 * event stream the server cut when stopping cannot be had on demand).
 */
class InternalErrorTest {

    @Test
    void anExceptionOnALiveExchangeIsAnswered500() {
        Context ctx = mock(Context.class);
        when(ctx.method()).thenReturn(HandlerType.GET);
        when(ctx.path()).thenReturn("/v1/queue");
        when(ctx.status(500)).thenReturn(ctx);

        MontageServer.internalError(new IllegalStateException("broken"), ctx);

        verify(ctx).json(Map.of("errors", List.of(Map.of("message", "internal error: IllegalStateException"))));
    }

    @Test
    void anExchangeThatEndedIsLeftAloneAndNothingIsThrownBackAtTheHandlers() {
        Context ctx = mock(Context.class);
        when(ctx.method()).thenReturn(HandlerType.GET);
        when(ctx.path()).thenThrow(new NullPointerException("the request was recycled"));

        assertDoesNotThrow(() -> MontageServer.internalError(new IllegalStateException("response recycled"), ctx));
        verify(ctx, never()).status(anyInt());
    }

    @Test
    void anAnswerThatCannotBeWrittenIsDroppedWithoutThrowing() {
        Context ctx = mock(Context.class);
        when(ctx.method()).thenReturn(HandlerType.GET);
        when(ctx.path()).thenReturn("/v1/generations/x/events");
        when(ctx.status(500)).thenThrow(new IllegalStateException("Response does not exist (likely recycled)"));

        assertDoesNotThrow(() -> MontageServer.internalError(new IllegalStateException("cut"), ctx));
    }
}
