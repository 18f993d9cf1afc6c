package lakehouse_jobs.catalog;

import java.util.Map;

import org.apache.spark.sql.catalyst.analysis.NoSuchFunctionException;
import org.apache.spark.sql.catalyst.analysis.NoSuchNamespaceException;
import org.apache.spark.sql.catalyst.analysis.NoSuchTableException;
import org.apache.spark.sql.connector.catalog.FunctionCatalog;
import org.apache.spark.sql.connector.catalog.Identifier;
import org.apache.spark.sql.connector.catalog.NamespaceChange;
import org.apache.spark.sql.connector.catalog.SupportsNamespaces;
import org.apache.spark.sql.connector.catalog.Table;
import org.apache.spark.sql.connector.catalog.TableCatalog;
import org.apache.spark.sql.connector.catalog.TableChange;
import org.apache.spark.sql.connector.catalog.functions.UnboundFunction;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

/** What a named catalog delegates to: nothing (no Spark session catalog behind it); Delta's path tables need a delegate that says so. */
final class NoObjects implements TableCatalog, SupportsNamespaces, FunctionCatalog {
  private final String name;

  NoObjects(String name) {
    this.name = name;
  }

  @Override public void initialize(String name, CaseInsensitiveStringMap options) {}
  @Override public String name() { return name; }
  @Override public Identifier[] listTables(String[] namespace) { return new Identifier[0]; }
  @Override public Table loadTable(Identifier ident) throws NoSuchTableException { throw new NoSuchTableException(ident); }
  @Override public Table alterTable(Identifier ident, TableChange... changes) throws NoSuchTableException { throw new NoSuchTableException(ident); }
  @Override public boolean dropTable(Identifier ident) { return false; }
  @Override public void renameTable(Identifier from, Identifier to) throws NoSuchTableException { throw new NoSuchTableException(from); }
  @Override public String[][] listNamespaces() { return new String[0][]; }
  @Override public String[][] listNamespaces(String[] namespace) throws NoSuchNamespaceException { throw new NoSuchNamespaceException(namespace); }
  @Override public Map<String, String> loadNamespaceMetadata(String[] namespace) throws NoSuchNamespaceException { throw new NoSuchNamespaceException(namespace); }
  @Override public void createNamespace(String[] namespace, Map<String, String> metadata) { throw new UnsupportedOperationException("no namespaces here"); }
  @Override public void alterNamespace(String[] namespace, NamespaceChange... changes) throws NoSuchNamespaceException { throw new NoSuchNamespaceException(namespace); }
  @Override public boolean dropNamespace(String[] namespace, boolean cascade) throws NoSuchNamespaceException { throw new NoSuchNamespaceException(namespace); }
  @Override public Identifier[] listFunctions(String[] namespace) { return new Identifier[0]; }
  @Override public UnboundFunction loadFunction(Identifier ident) throws NoSuchFunctionException { throw new NoSuchFunctionException(ident); }
}
