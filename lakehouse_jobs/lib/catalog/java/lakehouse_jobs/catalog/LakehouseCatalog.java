package lakehouse_jobs.catalog;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import org.apache.spark.sql.catalyst.analysis.NamespaceAlreadyExistsException;
import org.apache.spark.sql.catalyst.analysis.NoSuchNamespaceException;
import org.apache.spark.sql.catalyst.analysis.NoSuchTableException;
import org.apache.spark.sql.catalyst.analysis.NonEmptyNamespaceException;
import org.apache.spark.sql.catalyst.analysis.TableAlreadyExistsException;
import org.apache.spark.sql.connector.catalog.Column;
import org.apache.spark.sql.connector.catalog.Identifier;
import org.apache.spark.sql.connector.catalog.NamespaceChange;
import org.apache.spark.sql.connector.catalog.StagedTable;
import org.apache.spark.sql.connector.catalog.SupportsNamespaces;
import org.apache.spark.sql.connector.catalog.Table;
import org.apache.spark.sql.connector.catalog.TableCatalog;
import org.apache.spark.sql.connector.catalog.TableChange;
import org.apache.spark.sql.connector.catalog.TableInfo;
import org.apache.spark.sql.connector.expressions.Transform;
import org.apache.spark.sql.delta.catalog.DeltaCatalog;
import org.apache.spark.sql.internal.SQLConf;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

/**
 * Unity Catalog names on a folder: {@code catalog.schema.table} is the Delta table in
 * {@code <root>/<schema>/<table>} (the default catalog and spark_catalog) or
 * {@code <root>/catalogs/<catalog>/<schema>/<table>} (any other catalog).
 *
 * The filesystem is the only state, so every JVM (later runs, concurrent runs, a job-cluster
 * server) sees the same tables; every table operation is Delta's own, on a path identifier
 * ({@code delta.`/abs/path`}). The root is read at each call from the session's
 * {@code spark.lakehouse.root} (a run may bind another root to a shared session), else the
 * catalog option {@code root}, else the JVM's LAKEHOUSE_ROOT.
 */
public class LakehouseCatalog extends DeltaCatalog {
  public static final String ROOT_CONF = "spark.lakehouse.root";
  public static final String DEFAULT_CATALOG_CONF = "spark.lakehouse.catalog";
  /** Set on tables the catalog created or replaced: only those are dropped with their data (managed tables). */
  public static final String MANAGED = "lakehouse_jobs.managed";
  /** The same mark as Sail writes it (a Sail writer keeps only {@code delta.*} options as table properties). */
  public static final String SAIL_MANAGED = "delta." + MANAGED;

  /** Whether a table's properties say it was created through the catalog (on the JVM or on Sail). */
  static boolean managed(Map<String, String> properties) {
    return "true".equals(properties.get(MANAGED)) || "true".equals(properties.get(SAIL_MANAGED));
  }
  private static final String SESSION = "spark_catalog";
  private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_]{0,127}");
  private static final Set<String> RESERVED = Set.of("catalogs", "volumes", "dbfs", "landing");

  private String catalogName = SESSION;
  private String optionRoot;

  @Override
  public void initialize(String name, CaseInsensitiveStringMap options) {
    super.initialize(name, options);
    catalogName = name;
    optionRoot = options.get("root");
    if (!SESSION.equals(name)) {
      setDelegateCatalog(new NoObjects(name)); // a named catalog has no session catalog behind it
    }
  }

  @Override
  public String name() {
    return catalogName;
  }

  private boolean sessionMode() {
    return SESSION.equals(catalogName);
  }

  // ---- the naming rule -------------------------------------------------------------------

  static String checkName(String part, String kind, String full) {
    String lower = part == null ? "" : part.toLowerCase(java.util.Locale.ROOT);
    if (!NAME.matcher(lower).matches()) {
      throw new IllegalArgumentException(
          "Invalid " + kind + " name " + quoteForMessage(part) + " in " + quoteForMessage(full)
              + ": catalog, schema and table names use letters, digits and _ (starting with a letter, at most 128 characters).");
    }
    return lower;
  }

  private static String quoteForMessage(String text) {
    return "'" + String.valueOf(text).replace("\n", "\\n").replace("\r", "\\r") + "'";
  }

  private String full(String[] namespace, String table) {
    List<String> parts = new ArrayList<>();
    parts.add(catalogName);
    parts.addAll(Arrays.asList(namespace));
    if (table != null) parts.add(table);
    return String.join(".", parts);
  }

  Path root() {
    String root = SQLConf.get().getConfString(ROOT_CONF, null);
    if (root == null || root.isEmpty()) root = optionRoot;
    if (root == null || root.isEmpty()) root = System.getenv("LAKEHOUSE_ROOT");
    if (root == null || root.isEmpty()) {
      throw new IllegalStateException("Catalog " + catalogName + " has no lakehouse root: set " + ROOT_CONF + " (lakehouse_jobs.lib.catalog.bind_root).");
    }
    return Paths.get(root.startsWith("file:") ? root.substring(5) : root).toAbsolutePath().normalize();
  }

  private Path catalogDir() {
    String defaultCatalog = SQLConf.get().getConfString(DEFAULT_CATALOG_CONF, "main");
    if (sessionMode() || catalogName.equalsIgnoreCase(defaultCatalog)) return root();
    return root().resolve("catalogs").resolve(checkName(catalogName, "catalog", catalogName));
  }

  private Path schemaDir(String[] namespace) throws NoSuchNamespaceException {
    if (namespace.length != 1) throw new NoSuchNamespaceException(namespace);
    String schema = checkName(namespace[0], "schema", full(namespace, null));
    if (RESERVED.contains(schema)) {
      throw new IllegalArgumentException("Schema name '" + schema + "' in " + full(namespace, null)
          + " is reserved: the lakehouse root keeps catalogs/, volumes/, dbfs/ and landing/ there.");
    }
    return catalogDir().resolve(schema);
  }

  private Path tableDir(Identifier ident) throws NoSuchNamespaceException {
    Path dir = schemaDir(ident.namespace());
    return dir.resolve(checkName(ident.name(), "table", full(ident.namespace(), ident.name())));
  }

  private static boolean isPath(Identifier ident) {
    return ident.namespace().length == 1 && ident.name().contains("/");
  }

  private static Identifier pathIdent(Path dir) {
    return Identifier.of(new String[] {"delta"}, dir.toString());
  }

  /** The Delta path identifier of a (new) table; its schema folder is made (Unity Catalog needs CREATE SCHEMA first: see the docs). */
  private Identifier forCreate(Identifier ident, Map<String, String> properties) {
    Path dir;
    try {
      dir = tableDir(ident);
    } catch (NoSuchNamespaceException e) {
      throw sneaky(e);
    }
    String provider = properties.get(TableCatalog.PROP_PROVIDER);
    if (provider != null && !provider.equalsIgnoreCase("delta")) {
      throw new IllegalArgumentException("Table " + full(ident.namespace(), ident.name()) + " must be a Delta table (USING " + provider + " is not supported by catalog " + catalogName + ").");
    }
    String location = properties.get(TableCatalog.PROP_LOCATION);
    if (location != null) {
      Path wanted = Paths.get(location.startsWith("file:") ? location.replaceFirst("^file:(//)?", "") : location).toAbsolutePath().normalize();
      if (!wanted.equals(dir)) {
        throw new IllegalArgumentException("Table " + full(ident.namespace(), ident.name()) + " lives at " + dir
            + " by the catalog's naming rule; LOCATION '" + location + "' is not supported (read other paths with delta.`path`).");
      }
    }
    try {
      Files.createDirectories(dir.getParent());
    } catch (IOException e) {
      throw new IllegalStateException("Could not create schema folder " + dir.getParent() + ": " + e.getMessage());
    }
    return pathIdent(dir);
  }

  private static Map<String, String> withoutLocation(Map<String, String> properties) {
    Map<String, String> copy = new HashMap<>(properties);
    copy.remove(TableCatalog.PROP_LOCATION);
    copy.remove(TableCatalog.PROP_IS_MANAGED_LOCATION);
    copy.remove(TableCatalog.PROP_EXTERNAL);
    copy.put(MANAGED, "true");
    return copy;
  }

  private static TableInfo withoutLocation(TableInfo info) {
    TableInfo.Builder builder = new TableInfo.Builder();
    builder.withColumns(info.columns());
    builder.withProperties(withoutLocation(info.properties()));
    builder.withPartitions(info.partitions());
    builder.withConstraints(info.constraints());
    return builder.build();
  }

  private boolean legacy(Identifier ident) {
    return sessionMode() && ident.namespace().length != 1;
  }

  // ---- tables ----------------------------------------------------------------------------

  @Override
  public Table loadTable(Identifier ident) {
    if (isPath(ident) || legacy(ident)) return super.loadTable(ident);
    return loadPathTable(existing(ident));
  }

  @Override
  public Table loadTable(Identifier ident, long timestamp) {
    if (isPath(ident) || legacy(ident)) return super.loadTable(ident, timestamp);
    return super.loadTable(existing(ident), timestamp);
  }

  @Override
  public Table loadTable(Identifier ident, String version) {
    if (isPath(ident) || legacy(ident)) return super.loadTable(ident, version);
    return super.loadTable(existing(ident), version);
  }

  private Identifier existing(Identifier ident) {
    try {
      Path dir = tableDir(ident);
      if (Folders.isDeltaTable(dir)) return pathIdent(dir);
    } catch (NoSuchNamespaceException e) {
      // fall through
    }
    if (sessionMode()) return ident; // a table of Spark's own session catalog (temp, legacy)
    throw sneaky(new NoSuchTableException(ident));
  }

  @SuppressWarnings("unchecked")
  private static <E extends Throwable> RuntimeException sneaky(Throwable e) throws E {
    throw (E) e;
  }

  @Override
  public boolean tableExists(Identifier ident) {
    if (isPath(ident) || legacy(ident)) return super.tableExists(ident); // Delta: a path is a table once it has a log
    try {
      loadTable(ident);
      return true;
    } catch (Exception e) {
      if (e instanceof NoSuchTableException || e instanceof NoSuchNamespaceException) return false;
      throw e;
    }
  }

  private boolean delegated(Identifier ident, Map<String, String> properties) {
    if (isPath(ident) || legacy(ident)) return true;
    String provider = properties.get(TableCatalog.PROP_PROVIDER);
    return sessionMode() && provider != null && !provider.equalsIgnoreCase("delta");
  }

  @Override
  public Table createTable(Identifier ident, Column[] columns, Transform[] partitions, Map<String, String> properties) {
    if (delegated(ident, properties)) return super.createTable(ident, columns, partitions, properties);
    return super.createTable(forCreate(ident, properties), columns, partitions, withoutLocation(properties));
  }

  @Override
  public Table createTable(Identifier ident, StructType schema, Transform[] partitions, Map<String, String> properties) {
    if (delegated(ident, properties)) return super.createTable(ident, schema, partitions, properties);
    return super.createTable(forCreate(ident, properties), schema, partitions, withoutLocation(properties));
  }

  @Override
  public Table createTable(Identifier ident, TableInfo info) throws TableAlreadyExistsException, NoSuchNamespaceException {
    return createTable(ident, info.columns(), info.partitions(), info.properties());
  }

  @Override
  public StagedTable stageCreate(Identifier ident, TableInfo info) throws TableAlreadyExistsException, NoSuchNamespaceException {
    if (delegated(ident, info.properties())) return super.stageCreate(ident, info);
    return super.stageCreate(forCreate(ident, info.properties()), withoutLocation(info));
  }

  @Override
  public StagedTable stageCreate(Identifier ident, Column[] columns, Transform[] partitions, Map<String, String> properties) {
    if (delegated(ident, properties)) return super.stageCreate(ident, columns, partitions, properties);
    return super.stageCreate(forCreate(ident, properties), columns, partitions, withoutLocation(properties));
  }

  @Override
  public StagedTable stageReplace(Identifier ident, TableInfo info) throws NoSuchNamespaceException, NoSuchTableException {
    if (delegated(ident, info.properties())) return super.stageReplace(ident, info);
    Identifier path = forCreate(ident, info.properties());
    if (!Folders.isDeltaTable(Paths.get(path.name()))) throw new NoSuchTableException(ident);
    return super.stageReplace(path, withoutLocation(info));
  }

  @Override
  public StagedTable stageReplace(Identifier ident, Column[] columns, Transform[] partitions, Map<String, String> properties) {
    if (delegated(ident, properties)) return super.stageReplace(ident, columns, partitions, properties);
    return super.stageReplace(forCreate(ident, properties), columns, partitions, withoutLocation(properties));
  }

  @Override
  public StagedTable stageCreateOrReplace(Identifier ident, TableInfo info) throws NoSuchNamespaceException {
    if (delegated(ident, info.properties())) return super.stageCreateOrReplace(ident, info);
    return super.stageCreateOrReplace(forCreate(ident, info.properties()), withoutLocation(info));
  }

  @Override
  public StagedTable stageCreateOrReplace(Identifier ident, Column[] columns, Transform[] partitions, Map<String, String> properties) {
    if (delegated(ident, properties)) return super.stageCreateOrReplace(ident, columns, partitions, properties);
    return super.stageCreateOrReplace(forCreate(ident, properties), columns, partitions, withoutLocation(properties));
  }

  @Override
  public Table alterTable(Identifier ident, TableChange... changes) {
    if (isPath(ident) || legacy(ident)) return super.alterTable(ident, changes);
    return super.alterTable(existing(ident), changes);
  }

  /** Managed-table semantics: the table's folder (its data and history) is deleted. */
  @Override
  public boolean dropTable(Identifier ident) {
    if (isPath(ident) || legacy(ident)) return super.dropTable(ident);
    Identifier path = existing(ident);
    if (path == ident) return super.dropTable(ident);
    if (!managed(loadPathTable(path).properties())) {
      throw new UnsupportedOperationException("Table " + full(ident.namespace(), ident.name()) + " was written by path, not created through catalog "
          + catalogName + ": DROP TABLE keeps it (delete the folder " + path.name() + " to remove it).");
    }
    Folders.deleteTree(Paths.get(path.name()));
    return true;
  }

  @Override
  public boolean purgeTable(Identifier ident) {
    return dropTable(ident);
  }

  @Override
  public void renameTable(Identifier from, Identifier to) throws NoSuchTableException, TableAlreadyExistsException {
    if (isPath(from) || legacy(from)) {
      super.renameTable(from, to);
      return;
    }
    Path source = Paths.get(existing(from).name());
    String[] ns = to.namespace();
    if (ns.length == 2 && ns[0].equalsIgnoreCase(catalogName)) ns = new String[] {ns[1]}; // RENAME TO main.s.t2
    if (ns.length == 0) ns = from.namespace();
    if (ns.length != 1) {
      throw new IllegalArgumentException("A table is renamed within catalog " + catalogName + ": RENAME TO [" + catalogName + ".]<schema>.<table>, got " + to + ".");
    }
    Path target;
    try {
      target = tableDir(Identifier.of(ns, to.name()));
    } catch (NoSuchNamespaceException e) {
      throw sneaky(e);
    }
    if (Files.exists(target)) throw new TableAlreadyExistsException(Identifier.of(ns, to.name()));
    try {
      Files.createDirectories(target.getParent());
      Files.move(source, target);
    } catch (IOException e) {
      throw new IllegalStateException("Could not rename " + from + " to " + to + ": " + e.getMessage());
    }
    Folders.invalidate(source);
    Folders.invalidate(target);
  }

  @Override
  public Identifier[] listTables(String[] namespace) throws NoSuchNamespaceException {
    if (sessionMode() && namespace.length != 1) return super.listTables(namespace);
    Path dir = schemaDir(namespace);
    if (!namespaceExists(namespace)) throw new NoSuchNamespaceException(namespace);
    List<Identifier> tables = new ArrayList<>();
    for (Path child : Folders.children(dir)) {
      String name = child.getFileName().toString();
      if (NAME.matcher(name).matches() && Folders.isDeltaTable(child)) tables.add(Identifier.of(namespace, name));
    }
    return tables.toArray(new Identifier[0]);
  }

  // ---- schemas ---------------------------------------------------------------------------

  @Override
  public String[] defaultNamespace() {
    return new String[] {"default"};
  }

  private static boolean isSchemaName(String name) {
    return NAME.matcher(name).matches() && !RESERVED.contains(name);
  }

  @Override
  public String[][] listNamespaces() throws NoSuchNamespaceException {
    List<String[]> out = new ArrayList<>();
    boolean sawDefault = false;
    for (Path child : Folders.children(catalogDir())) {
      String name = child.getFileName().toString();
      if (isSchemaName(name) && !Folders.isDeltaTable(child)) {
        out.add(new String[] {name});
        sawDefault |= name.equals("default");
      }
    }
    if (!sawDefault) out.add(0, new String[] {"default"});
    return out.toArray(new String[0][]);
  }

  @Override
  public String[][] listNamespaces(String[] namespace) throws NoSuchNamespaceException {
    if (namespace.length == 0) return listNamespaces();
    if (!namespaceExists(namespace)) throw new NoSuchNamespaceException(namespace);
    return new String[0][];
  }

  @Override
  public boolean namespaceExists(String[] namespace) {
    if (namespace.length != 1) return sessionMode() && namespace.length == 0;
    String name = namespace[0].toLowerCase(java.util.Locale.ROOT);
    if (!isSchemaName(name)) return false;
    return name.equals("default") || Files.isDirectory(catalogDir().resolve(name));
  }

  @Override
  public Map<String, String> loadNamespaceMetadata(String[] namespace) throws NoSuchNamespaceException {
    if (!namespaceExists(namespace)) throw new NoSuchNamespaceException(namespace);
    Map<String, String> meta = new HashMap<>();
    meta.put(SupportsNamespaces.PROP_LOCATION, schemaDir(namespace).toString());
    return meta;
  }

  /** A schema is its folder; LOCATION and properties are not kept (the folder is the only state). */
  @Override
  public void createNamespace(String[] namespace, Map<String, String> metadata) throws NamespaceAlreadyExistsException {
    Path dir;
    try {
      dir = schemaDir(namespace);
    } catch (NoSuchNamespaceException e) {
      throw new IllegalArgumentException("A schema name has one part (catalog.schema), got " + full(namespace, null) + ".");
    }
    if (Files.isDirectory(dir)) throw new NamespaceAlreadyExistsException(namespace);
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new IllegalStateException("Could not create schema folder " + dir + ": " + e.getMessage());
    }
  }

  @Override
  public void alterNamespace(String[] namespace, NamespaceChange... changes) throws NoSuchNamespaceException {
    if (!namespaceExists(namespace)) throw new NoSuchNamespaceException(namespace);
    throw new UnsupportedOperationException("Schema " + full(namespace, null) + " is a folder: its properties cannot be altered in catalog " + catalogName + ".");
  }

  @Override
  public boolean dropNamespace(String[] namespace, boolean cascade) throws NoSuchNamespaceException, NonEmptyNamespaceException {
    if (!namespaceExists(namespace)) throw new NoSuchNamespaceException(namespace);
    Path dir = schemaDir(namespace);
    if (!cascade && listTables(namespace).length > 0) throw new NonEmptyNamespaceException(namespace);
    for (Identifier table : listTables(namespace)) {
      Path tableDir = dir.resolve(table.name());
      if (!managed(loadPathTable(pathIdent(tableDir)).properties())) {
        throw new UnsupportedOperationException("Schema " + full(namespace, null) + " holds " + table.name()
            + ", a table written by path, not created through catalog " + catalogName + ": DROP SCHEMA keeps it (delete the folder " + dir + " to remove it).");
      }
    }
    Folders.deleteTree(dir);
    return true;
  }
}
