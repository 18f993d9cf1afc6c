package lakehouse_jobs.catalog;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.FunctionIdentifier;
import org.apache.spark.sql.catalyst.TableIdentifier;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.parser.ParameterContext;
import org.apache.spark.sql.catalyst.parser.ParseException;
import org.apache.spark.sql.catalyst.parser.ParserInterface;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructType;
import scala.runtime.AbstractFunction1;
import scala.runtime.AbstractFunction2;
import scala.runtime.BoxedUnit;

/**
 * Databricks SQL that Spark's parser lacks, as Spark statements: {@code USE CATALOG c} is Spark's
 * {@code SET CATALOG c}. Everything else goes to the parser before it (Delta's, then Spark's).
 */
public class LakehouseExtensions extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {
  @Override
  public BoxedUnit apply(SparkSessionExtensions extensions) {
    extensions.injectParser(new AbstractFunction2<SparkSession, ParserInterface, ParserInterface>() {
      @Override
      public ParserInterface apply(SparkSession session, ParserInterface delegate) {
        return new Parser(delegate);
      }
    });
    return BoxedUnit.UNIT;
  }

  static final class Parser implements ParserInterface {
    // Comments and blank lines around the statement are allowed (a SQL file's first statement carries its header comment).
    private static final String SPACE = "(?:\\s|--[^\\n]*(?:\\n|$)|/\\*.*?\\*/)*";
    private static final Pattern USE_CATALOG = Pattern.compile("(?is)" + SPACE + "USE\\s+CATALOG\\s+(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*|'[^']*')\\s*;?" + SPACE);
    private final ParserInterface delegate;

    Parser(ParserInterface delegate) {
      this.delegate = delegate;
    }

    private static String rewrite(String sql) {
      Matcher m = USE_CATALOG.matcher(sql);
      if (!m.matches()) return null;
      String name = m.group(1);
      if (name.startsWith("'")) name = "`" + name.substring(1, name.length() - 1) + "`";
      return "SET CATALOG " + name;
    }

    @Override
    public LogicalPlan parsePlan(String sql) throws ParseException {
      String rewritten = rewrite(sql);
      return delegate.parsePlan(rewritten == null ? sql : rewritten);
    }

    @Override
    public LogicalPlan parsePlanWithParameters(String sql, ParameterContext context) throws ParseException {
      String rewritten = rewrite(sql);
      return rewritten == null ? delegate.parsePlanWithParameters(sql, context) : delegate.parsePlan(rewritten);
    }

    @Override public Expression parseExpression(String text) throws ParseException { return delegate.parseExpression(text); }
    @Override public TableIdentifier parseTableIdentifier(String text) throws ParseException { return delegate.parseTableIdentifier(text); }
    @Override public FunctionIdentifier parseFunctionIdentifier(String text) throws ParseException { return delegate.parseFunctionIdentifier(text); }
    @Override public scala.collection.immutable.Seq<String> parseMultipartIdentifier(String text) throws ParseException { return delegate.parseMultipartIdentifier(text); }
    @Override public LogicalPlan parseQuery(String text) throws ParseException { return delegate.parseQuery(text); }
    @Override public StructType parseRoutineParam(String text) throws ParseException { return delegate.parseRoutineParam(text); }
    @Override public StructType parseTableSchema(String text) throws ParseException { return delegate.parseTableSchema(text); }
    @Override public DataType parseDataType(String text) throws ParseException { return delegate.parseDataType(text); }
  }
}
