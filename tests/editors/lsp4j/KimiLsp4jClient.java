// A JetBrains stand-in: an Eclipse LSP4J 0.24 client (the library under LSP4IJ) that starts kimi-lsp
// with the editors/jetbrains template's initializationOptions and settings, then exercises inline
// completion, completion, diagnostics and the quick fix. Prints one "OK <step> <detail>" line per
// step; exits non-zero (with "FAIL <step> <why>") on the first failure.
//
// Usage: java KimiLsp4jClient <workspace dir> <template dir> <server command...>

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.eclipse.lsp4j.*;
import org.eclipse.lsp4j.jsonrpc.Launcher;
import org.eclipse.lsp4j.jsonrpc.messages.Either;
import org.eclipse.lsp4j.jsonrpc.services.JsonNotification;
import org.eclipse.lsp4j.jsonrpc.services.JsonRequest;
import org.eclipse.lsp4j.services.LanguageClient;
import org.eclipse.lsp4j.services.LanguageServer;

public class KimiLsp4jClient {
    /** LSP4J 0.24 has no typed inline completion: declare the request ourselves. */
    public interface KimiServer extends LanguageServer {
        @JsonRequest("textDocument/inlineCompletion")
        CompletableFuture<JsonElement> inlineCompletion(JsonObject params);
    }

    public interface KimiClientApi extends LanguageClient {
        @JsonNotification("kimi/status")
        void kimiStatus(JsonObject params);
    }

    static class Client implements KimiClientApi {
        final Map<String, List<Diagnostic>> diagnostics = new ConcurrentHashMap<>();
        volatile JsonObject status;

        public void kimiStatus(JsonObject params) { status = params; }
        public void telemetryEvent(Object object) {}
        public void publishDiagnostics(PublishDiagnosticsParams params) {
            diagnostics.put(params.getUri(), params.getDiagnostics());
        }
        public void showMessage(MessageParams params) { System.err.println("showMessage: " + params.getMessage()); }
        public CompletableFuture<MessageActionItem> showMessageRequest(ShowMessageRequestParams params) {
            return CompletableFuture.completedFuture(null);
        }
        public void logMessage(MessageParams params) { System.err.println("log: " + params.getMessage()); }
        public CompletableFuture<Void> registerCapability(RegistrationParams params) {
            return CompletableFuture.completedFuture(null);
        }
        public CompletableFuture<Void> unregisterCapability(UnregistrationParams params) {
            return CompletableFuture.completedFuture(null);
        }
        public CompletableFuture<Void> createProgress(WorkDoneProgressCreateParams params) {
            return CompletableFuture.completedFuture(null);
        }
        public void notifyProgress(ProgressParams params) {}
        public CompletableFuture<List<Object>> configuration(ConfigurationParams params) {
            List<Object> result = new ArrayList<>();
            for (int i = 0; i < params.getItems().size(); i++) result.add(null);
            return CompletableFuture.completedFuture(result);
        }
    }

    static void ok(String step, Object detail) { System.out.println("OK " + step + " " + detail); }

    static void check(boolean condition, String step, String why) {
        if (!condition) {
            System.out.println("FAIL " + step + " " + why);
            System.out.flush();
            Runtime.getRuntime().halt(1);
        }
    }

    static <T> T await(CompletableFuture<T> future) throws Exception { return future.get(30, TimeUnit.SECONDS); }

    public static void main(String[] args) throws Exception {
        Path workspace = Path.of(args[0]).toAbsolutePath();
        Path template = Path.of(args[1]);
        List<String> command = Arrays.asList(args).subList(2, args.length);
        JsonObject initOptions = JsonParser.parseString(Files.readString(template.resolve("initializationOptions.json"))).getAsJsonObject();
        JsonObject settings = JsonParser.parseString(Files.readString(template.resolve("settings.json"))).getAsJsonObject();

        Process process = new ProcessBuilder(command).directory(workspace.toFile())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        Client client = new Client();
        Launcher<KimiServer> launcher = new Launcher.Builder<KimiServer>()
                .setLocalService(client).setRemoteInterface(KimiServer.class)
                .setInput(process.getInputStream()).setOutput(process.getOutputStream()).create();
        launcher.startListening();
        KimiServer server = launcher.getRemoteProxy();

        InitializeParams init = new InitializeParams();
        init.setProcessId((int) ProcessHandle.current().pid());
        init.setWorkspaceFolders(List.of(new WorkspaceFolder(workspace.toUri().toString(), "ws")));
        init.setInitializationOptions(initOptions);
        ClientCapabilities caps = new ClientCapabilities();
        GeneralClientCapabilities general = new GeneralClientCapabilities();
        general.setPositionEncodings(List.of(PositionEncodingKind.UTF16));
        caps.setGeneral(general);
        TextDocumentClientCapabilities text = new TextDocumentClientCapabilities();
        text.setCompletion(new CompletionCapabilities(new CompletionItemCapabilities(true)));
        text.setPublishDiagnostics(new PublishDiagnosticsCapabilities(true));
        CodeActionCapabilities codeAction = new CodeActionCapabilities(new CodeActionLiteralSupportCapabilities(
                new CodeActionKindCapabilities(List.of(CodeActionKind.QuickFix))), false);
        codeAction.setResolveSupport(new CodeActionResolveSupportCapabilities(List.of("edit")));
        codeAction.setDataSupport(true);
        text.setCodeAction(codeAction);
        caps.setTextDocument(text);
        init.setCapabilities(caps);
        InitializeResult result = await(server.initialize(init));
        ServerCapabilities sc = result.getCapabilities();
        check(sc.getCompletionProvider() != null, "initialize", "no completionProvider");
        check(sc.getCodeActionProvider() != null, "initialize", "no codeActionProvider");
        ok("initialize", result.getServerInfo() == null ? "?" : result.getServerInfo().getName());
        server.initialized(new InitializedParams());
        server.getWorkspaceService().didChangeConfiguration(new DidChangeConfigurationParams(settings));

        Path file = workspace.resolve("main.py");
        String uri = file.toUri().toString();
        String source = Files.readString(file);
        server.getTextDocumentService().didOpen(new DidOpenTextDocumentParams(
                new TextDocumentItem(uri, "python", 1, source)));

        // Diagnostics (pushed).
        long deadline = System.currentTimeMillis() + 30_000;
        while (client.diagnostics.getOrDefault(uri, List.of()).isEmpty() && System.currentTimeMillis() < deadline) {
            Thread.sleep(50);
        }
        List<Diagnostic> diags = client.diagnostics.getOrDefault(uri, List.of());
        check(!diags.isEmpty(), "diagnostics", "none published");
        Diagnostic error = diags.get(0);
        check("kimi-lsp".equals(error.getSource()), "diagnostics", "source " + error.getSource());
        ok("diagnostics", "line=" + error.getRange().getStart().getLine());

        // Code action: list, resolve lazily, apply the edit to our copy of the text.
        CodeActionParams actionParams = new CodeActionParams(new TextDocumentIdentifier(uri), error.getRange(),
                new CodeActionContext(List.of(error), List.of(CodeActionKind.QuickFix)));
        List<Either<Command, CodeAction>> actions = await(server.getTextDocumentService().codeAction(actionParams));
        CodeAction fix = null;
        for (Either<Command, CodeAction> action : actions) {
            if (action.isRight() && "Fix syntax error with Kimi".equals(action.getRight().getTitle())) fix = action.getRight();
        }
        check(fix != null, "codeAction", "no 'Fix syntax error with Kimi' action");
        if (fix.getEdit() == null) fix = await(server.getTextDocumentService().resolveCodeAction(fix));
        check(fix.getEdit() != null && fix.getEdit().getChanges() != null, "codeAction", "resolved without an edit");
        List<TextEdit> edits = fix.getEdit().getChanges().get(uri);
        check(edits != null && edits.size() == 1, "codeAction", "expected one edit for " + uri);
        String fixed = apply(source, edits.get(0));
        ok("codeAction", new Gson().toJson(fixed));
        VersionedTextDocumentIdentifier v2 = new VersionedTextDocumentIdentifier(uri, 2);
        server.getTextDocumentService().didChange(new DidChangeTextDocumentParams(v2,
                List.of(new TextDocumentContentChangeEvent(fixed))));

        // Inline completion after typing `café = add` (é: one UTF-16 unit, two UTF-8 bytes) on a new last line.
        String typed = fixed + "caf\u00e9 = add";
        Position cursor = new Position(lineCount(fixed), "caf\u00e9 = add".length());
        server.getTextDocumentService().didChange(new DidChangeTextDocumentParams(
                new VersionedTextDocumentIdentifier(uri, 3), List.of(new TextDocumentContentChangeEvent(typed))));
        JsonObject inlineParams = new JsonObject();
        JsonObject doc = new JsonObject();
        doc.addProperty("uri", uri);
        inlineParams.add("textDocument", doc);
        inlineParams.add("position", new Gson().toJsonTree(cursor));
        JsonObject ctx = new JsonObject();
        ctx.addProperty("triggerKind", 1);
        inlineParams.add("context", ctx);
        JsonElement inline = await(server.inlineCompletion(inlineParams));
        check(inline != null && !inline.isJsonNull(), "inlineCompletion", "null result");
        JsonElement items = inline.isJsonArray() ? inline : inline.getAsJsonObject().get("items");
        check(items.getAsJsonArray().size() > 0, "inlineCompletion", "no items");
        JsonElement insert = items.getAsJsonArray().get(0).getAsJsonObject().get("insertText");
        String insertText = insert.isJsonPrimitive() ? insert.getAsString() : insert.getAsJsonObject().get("value").getAsString();
        ok("inlineCompletion", new Gson().toJson(insertText));

        // Completion at the same place: the file's symbols (and the model's item).
        Either<List<CompletionItem>, CompletionList> completion = await(server.getTextDocumentService().completion(
                new CompletionParams(new TextDocumentIdentifier(uri), cursor)));
        List<CompletionItem> list = completion.isLeft() ? completion.getLeft() : completion.getRight().getItems();
        List<String> labels = new ArrayList<>();
        for (CompletionItem item : list) labels.add(item.getLabel());
        check(labels.contains("add") && labels.contains("greet"), "completion", "labels " + labels);
        ok("completion", new Gson().toJson(labels));

        check(client.status != null, "status", "no kimi/status notification");
        ok("status", client.status);

        await(server.shutdown());
        server.exit();
        process.waitFor(10, TimeUnit.SECONDS);
        ok("shutdown", "exit=" + (process.isAlive() ? "alive" : process.exitValue()));
        System.exit(0);
    }

    static int lineCount(String text) { return text.split("\n", -1).length - 1; }

    /** Apply one TextEdit (UTF-16 positions, which is what Java strings index) to text. */
    static String apply(String text, TextEdit edit) {
        return text.substring(0, offset(text, edit.getRange().getStart())) + edit.getNewText()
                + text.substring(offset(text, edit.getRange().getEnd()));
    }

    static int offset(String text, Position position) {
        int offset = 0;
        for (int line = 0; line < position.getLine(); line++) offset = text.indexOf('\n', offset) + 1;
        return offset + position.getCharacter();
    }
}
